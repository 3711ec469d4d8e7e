"""Gallery embedding throughput, side by side: `rs_retrieval.inference` vs a plain transformers loop.

    .venv/bin/python benchmarks/perf/bench_embedding.py [--images 512] [--rounds 5] [--quick]

* `ours`: `embed_images(model, processor, paths)` and `embed_texts(model, processor, captions)` with a
  `DualEncoderModel` and its `DualEncoderProcessor` (the package tokenizer, per-batch padding; `embed_texts`
  embeds each distinct caption once, in batches of similar length).
* `theirs`: what a user writes with the public API: for each batch, `PIL.Image.open(path).convert("RGB")`,
  `VisionTextDualEncoderProcessor` (`ViTImageProcessor` + the same tokenizer, per-batch padding, same truncation),
  `VisionTextDualEncoderModel.get_image_features` / `get_text_features`, then L2 normalisation.

Both: the same ViT and text tower configs (`benchmarks/ucm/config_vit_small_128.json`, randomly initialised: the
weights do not change the cost), the same UCM-captions JPEGs read from their paths (decoding is part of indexing a
gallery), their English captions as texts (as they are, with UCM's repeats, and once more with each distinct
caption once, which isolates batching from de-duplication), the same batch size and torch threads, eval mode under
`torch.inference_mode()`. One process holds both models; every round times ours and theirs in turn (images,
then texts; which side goes first swaps every round) after one untimed warm-up pass each; the medians over the
rounds that no other process disturbed (see `common.DISTURBED_CORES`) are reported.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from common import (
    DISTURBED_CORES,
    InterferenceMeter,
    machine_description,
    median,
    spread,
    tower_configs,
    ucm_records,
    wait_for_quiet,
    warm_file_cache,
)


def build_ours(image_size: int, max_length: int):
    from rs_retrieval import DualEncoderConfig, DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor
    from rs_retrieval.tokenizer import default_tokenizer

    vision, text, projection_dim = tower_configs(image_size)
    tokenizer = default_tokenizer()
    text["vocab_size"] = max(text["vocab_size"], len(tokenizer))
    config = DualEncoderConfig(vision_config={"model_type": "vit", **vision},
                               text_config={"model_type": "bert", **text},
                               projection_dim=projection_dim, vision_pooling="cls", text_pooling="mean")
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size=image_size), tokenizer, max_length=max_length)
    return DualEncoderModel(config).eval(), processor


def build_theirs(image_size: int, max_length: int):
    from PIL import Image
    from transformers import (
        BertConfig,
        BertModel,
        VisionTextDualEncoderConfig,
        VisionTextDualEncoderModel,
        VisionTextDualEncoderProcessor,
        ViTConfig,
        ViTImageProcessor,
        ViTModel,
    )

    from rs_retrieval.tokenizer import default_tokenizer

    vision, text, projection_dim = tower_configs(image_size)
    tokenizer = default_tokenizer()
    text_config = BertConfig(**(text | {"vocab_size": max(text["vocab_size"], len(tokenizer))}))
    vision_model, text_model = ViTModel(ViTConfig(**vision)), BertModel(text_config)
    config = VisionTextDualEncoderConfig.from_vision_text_configs(vision_model.config, text_config,
                                                                  projection_dim=projection_dim)
    model = VisionTextDualEncoderModel(config=config, vision_model=vision_model, text_model=text_model).eval()
    image_processor = ViTImageProcessor(size={"height": image_size, "width": image_size},
                                        resample=Image.Resampling.BICUBIC, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return model, VisionTextDualEncoderProcessor(image_processor=image_processor, tokenizer=tokenizer)


def their_image_loop(model, processor, paths: list[str], batch_size: int) -> torch.Tensor:
    from PIL import Image

    parts = []
    for start in range(0, len(paths), batch_size):
        images = [Image.open(path).convert("RGB") for path in paths[start:start + batch_size]]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        parts.append(F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1))
    return torch.cat(parts)


def their_text_loop(model, processor, texts: list[str], batch_size: int, max_length: int) -> torch.Tensor:
    parts = []
    for start in range(0, len(texts), batch_size):
        tokens = processor(text=texts[start:start + batch_size], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt")
        features = model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        parts.append(F.normalize(features.pooler_output, dim=-1))
    return torch.cat(parts)


def timed(function: Callable[[], torch.Tensor]) -> tuple[float, float]:
    """Seconds one call took, and how many cores other processes kept busy meanwhile."""
    with torch.inference_mode(), InterferenceMeter() as meter:
        started = time.perf_counter()
        function()
        seconds = time.perf_counter() - started
    return seconds, meter.result.other_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="UCM images (every 4th of all 2,100, in order)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="images and texts per batch, both sides")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-load", type=float, default=0.5, help="wait until the 1-minute load is below this")
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait for a quiet machine")
    parser.add_argument("--json", help="also write every round's figures here")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 images, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.images, args.rounds = 64, 1
    torch.set_num_threads(args.threads)

    records = ucm_records(split=None, stride=4, limit=args.images)
    paths = [r["path"] for r in records]
    texts = [caption for r in records for caption in r["captions_en"]]
    distinct = list(dict.fromkeys(texts))
    warm_file_cache(paths)
    ours_model, ours_processor = build_ours(args.image_size, args.max_length)
    their_model, their_processor = build_theirs(args.image_size, args.max_length)

    from rs_retrieval.inference import embed_images, embed_texts

    tasks: dict[str, Callable[[], torch.Tensor]] = {
        "ours images": lambda: embed_images(ours_model, ours_processor, paths, batch_size=args.batch_size),
        "theirs images": lambda: their_image_loop(their_model, their_processor, paths, args.batch_size),
        "ours texts": lambda: embed_texts(ours_model, ours_processor, texts, batch_size=args.batch_size),
        "theirs texts": lambda: their_text_loop(their_model, their_processor, texts, args.batch_size,
                                                args.max_length),
        # The same captions without repeats: what batching alone gives, without embedding each caption once.
        "ours distinct texts": lambda: embed_texts(ours_model, ours_processor, distinct, batch_size=args.batch_size),
        "theirs distinct texts": lambda: their_text_loop(their_model, their_processor, distinct, args.batch_size,
                                                         args.max_length),
    }
    counts = {"images": len(paths), "texts": len(texts), "distinct texts": len(distinct)}
    # Same pixels in, so both sides do the same work: the two image processors must agree.
    sample = paths[:4]
    ours_pixels = ours_processor(images=sample, return_tensors="pt")["pixel_values"]
    from PIL import Image

    their_pixels = their_processor(images=[Image.open(p).convert("RGB") for p in sample],
                                   return_tensors="pt")["pixel_values"]
    pixel_gap = float((ours_pixels - their_pixels).abs().max())

    load = wait_for_quiet(args.max_load, args.max_wait)
    print(f"{machine_description(args.threads)}; 1-minute load average at start {load:.2f}")
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in tasks}
    with InterferenceMeter() as meter:
        for task in tasks.values():
            timed(task)  # warm-up
        for round_index in range(args.rounds):
            # Who goes first swaps every round (ours, theirs, then theirs, ours), so neither side always runs
            # right after the other modality's pass.
            sides = ("ours", "theirs") if round_index % 2 == 0 else ("theirs", "ours")
            for kind in counts:
                for side in sides:
                    seconds[f"{side} {kind}"].append(timed(tasks[f"{side} {kind}"]))
    print(f"{len(paths)} UCM JPEGs and their {len(texts)} English captions ({len(distinct)} distinct), "
          f"batch {args.batch_size}, "
          f"{args.image_size} px, {args.rounds} rounds alternating ours/theirs (first side swapped each round); "
          f"max |pixel difference| between the two image processors {pixel_gap:.4f}; {meter.result.describe()}\n")
    print("| what | rounds kept | ours (items/s) | range | theirs (items/s) | range | ours/theirs | per round: median "
          "(range) |")
    print("|---|---:|---:|---|---:|---|---:|---|")
    figures: dict[str, Any] = {}
    for kind, count in counts.items():
        rounds = list(zip(seconds[f"ours {kind}"], seconds[f"theirs {kind}"]))
        # A round counts only when no other process disturbed either side of it.
        quiet = [r for r in rounds if max(r[0][1], r[1][1]) <= DISTURBED_CORES]
        kept = quiet or rounds
        ours = [count / o[0] for o, _ in kept]
        theirs = [count / t[0] for _, t in kept]
        # Each round times both sides back to back, so its own ratio is less exposed to drifts of this VM.
        paired = [o / t for o, t in zip(ours, theirs)]
        figures[kind] = {"ours_per_s": ours, "theirs_per_s": theirs, "ratio": median(ours) / median(theirs),
                         "paired_ratios": paired, "rounds": rounds}
        print(f"| {kind} | {len(quiet)}/{len(rounds)} | {median(ours):.1f} | {spread(ours)} | {median(theirs):.1f} | "
              f"{spread(theirs)} | {median(ours) / median(theirs):.2f}x | {median(paired):.2f}x ({spread(paired)}) |")
    print(f"\nrounds during which other processes kept more than {DISTURBED_CORES} cores busy are left out (all "
          "rounds are used where none was undisturbed)")
    if args.json:
        Path(args.json).write_text(json.dumps({"arguments": vars(args), "interference": vars(meter.result),
                                               "pixel_gap": pixel_gap, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
