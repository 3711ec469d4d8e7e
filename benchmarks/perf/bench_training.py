"""Training throughput and peak memory, side by side: our recipe vs a run_clip-style transformers baseline.

    .venv/bin/python benchmarks/perf/bench_training.py [--rounds 5] [--text-tower bert|e5] [--quick]

Configurations, each run in a fresh subprocess, alternating (ours, theirs, ours without augmentation, ...):

* `ours`: `DualEncoderModel` built by `hub_scripts/train.py`'s `build_model_and_processor`, trained by
  `DualEncoderTrainer` with `RetrievalCollator` (the saved `DualEncoderProcessor`: decode, random resized crop,
  90° rotation, flip, resize, normalise, tokenise with per-batch padding) and the recipe's callbacks and
  `TrainingArguments` defaults (evaluation and checkpoints off); one row per image, one caption sampled per row.
* `ours_noaug`: the same with `augment=False`.
* `theirs`: `transformers.VisionTextDualEncoderModel` on the same ViT and text tower configs, trained by a plain
  `Trainer` the `run_clip.py` way: one row per caption, captions tokenised up front by `datasets.map` (padded to
  `max_length`, as run_clip pads to `max_seq_length`; `--their-padding longest` pads per batch instead), images
  read and transformed lazily by `set_transform` (`ViTImageProcessor`: PIL bicubic resize + normalise;
  torchvision is not installed), run_clip's `collate_fn`.

Both: the same UCM-captions JPEGs (English captions of the train split), image size, batch size, AdamW (the
Trainer's default) at the same learning rate and weight decay, `dataloader_num_workers=0`, the same torch threads.
Throughput is image-text pairs per second over the steps after the warm-up steps, end to end (data loading
included, as the Trainer runs it). Peak memory is the process's peak resident set (`ru_maxrss`): in total, and
its growth over the resident set just before `train()` (model and data already built). After training each worker
also times its train data loader alone (sampler + dataset + collator, no model) to show whether data can keep up.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    DISTURBED_CORES,
    E5_DIR,
    InterferenceMeter,
    alternate,
    machine_description,
    median,
    peak_rss_mib,
    rss_mib,
    run_worker,
    spread,
    tower_configs,
    ucm_records,
    undisturbed,
    wait_for_quiet,
    warm_file_cache,
)

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

CONFIGURATIONS = ("ours", "theirs", "ours_noaug")


# 1. The two trainers -------------------------------------------------------------------------------------------

def _training_arguments(args: argparse.Namespace, output_dir: str, **overrides: Any) -> TrainingArguments:
    from transformers import TrainingArguments

    common = {"output_dir": output_dir, "max_steps": args.warmup_steps + args.steps,
              "per_device_train_batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "weight_decay": 0.1, "dataloader_num_workers": 0, "dataloader_pin_memory": False,
              "remove_unused_columns": False, "report_to": "none", "eval_strategy": "no", "save_strategy": "no",
              "logging_steps": 10, "disable_tqdm": True, "seed": 0}
    return TrainingArguments(**(common | overrides))


def build_ours(args: argparse.Namespace, output_dir: str, augment: bool) -> Trainer:
    """The `hub_scripts/train.py` path: the recipe builder, collator, trainer, callbacks and defaults."""
    from datasets import Dataset, Image

    from rs_retrieval.training import (
        ClampLogitScaleCallback,
        DualEncoderTrainer,
        EpochCallback,
        ModelArguments,
        RetrievalCollator,
    )
    from rs_retrieval.training.recipe import RECIPE_DEFAULTS, build_model_and_processor, freeze_towers

    records = ucm_records("train")
    dataset = Dataset.from_dict({"image": [r["path"] for r in records], "image_id": [r["image_id"] for r in records],
                                 "captions_en": [r["captions_en"] for r in records]}).cast_column("image", Image())
    model_args = ModelArguments(config=str(Path(__file__).parents[1] / "ucm" / "config_vit_small_128.json"),
                                image_size=args.image_size, max_length=args.max_length)
    if args.text_tower == "e5":
        model_args.text_model, model_args.text_pooling, model_args.text_prefix = str(E5_DIR), "mean", "query: "
        model_args.freeze_text_embeddings = True
    model, processor = build_model_and_processor(model_args)
    freeze_towers(model, model_args)
    recipe = {k: v for k, v in RECIPE_DEFAULTS.items()
              if k in ("lr_scheduler_type", "warmup_steps", "ddp_find_unused_parameters")}
    collator = RetrievalCollator(processor, ["en"], augment=augment, seed=0)
    return DualEncoderTrainer(
        model=model, args=_training_arguments(args, output_dir, **recipe), train_dataset=dataset,
        data_collator=collator, processing_class=processor,
        callbacks=[ClampLogitScaleCallback(), EpochCallback(collator)],
    )


def build_theirs(args: argparse.Namespace, output_dir: str) -> Trainer:
    """run_clip.py with VisionTextDualEncoderModel: tokenise with `map`, transform images with `set_transform`."""
    import torch
    from datasets import Dataset
    from PIL import Image
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertModel,
        Trainer,
        VisionTextDualEncoderConfig,
        VisionTextDualEncoderModel,
        ViTConfig,
        ViTImageProcessor,
        ViTModel,
    )

    from rs_retrieval.tokenizer import default_tokenizer

    vision_dict, text_dict, projection_dim = tower_configs(args.image_size)
    vision_model = ViTModel(ViTConfig(**vision_dict))
    if args.text_tower == "e5":
        tokenizer = AutoTokenizer.from_pretrained(str(E5_DIR))
        model = VisionTextDualEncoderModel.from_vision_text_pretrained(
            text_model_name_or_path=str(E5_DIR), vision_model=vision_model, projection_dim=projection_dim)
        model.text_model.get_input_embeddings().requires_grad_(False)
        prefix = "query: "
    else:
        tokenizer = default_tokenizer()
        text_config = BertConfig(**(text_dict | {"vocab_size": max(text_dict["vocab_size"], len(tokenizer))}))
        text_model = BertModel(text_config)
        config = VisionTextDualEncoderConfig.from_vision_text_configs(vision_model.config, text_config,
                                                                      projection_dim=projection_dim)
        model = VisionTextDualEncoderModel(config=config, vision_model=vision_model, text_model=text_model)
        prefix = ""
    image_processor = ViTImageProcessor(size={"height": args.image_size, "width": args.image_size},
                                        resample=Image.Resampling.BICUBIC, image_mean=[0.5] * 3, image_std=[0.5] * 3)

    # One row per caption, as run_clip reads a captions file.
    rows = [(r["path"], caption) for r in ucm_records("train") for caption in r["captions_en"]]
    dataset = Dataset.from_dict({"image_path": [p for p, _ in rows], "caption": [c for _, c in rows]})

    def tokenize_captions(examples: dict[str, list]) -> dict[str, list]:
        text = [prefix + caption for caption in examples["caption"]]
        padding = "max_length" if args.their_padding == "max_length" else False
        tokens = tokenizer(text, max_length=args.max_length, padding=padding, truncation=True)
        return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}

    dataset = dataset.map(tokenize_captions, batched=True)

    def transform_images(examples: dict[str, list]) -> dict[str, list]:
        images = [Image.open(path).convert("RGB") for path in examples["image_path"]]
        examples["pixel_values"] = list(image_processor(images=images, return_tensors="pt")["pixel_values"])
        return examples

    dataset.set_transform(transform_images)

    def collate_fn(examples: list[dict]) -> dict[str, Any]:
        tokens = {key: [e[key] for e in examples] for key in ("input_ids", "attention_mask")}
        if args.their_padding == "longest":
            tokens = tokenizer.pad(tokens, return_tensors="pt")
        return {"pixel_values": torch.stack([e["pixel_values"] for e in examples]),
                "input_ids": torch.as_tensor(tokens["input_ids"], dtype=torch.long),
                "attention_mask": torch.as_tensor(tokens["attention_mask"], dtype=torch.long),
                "return_loss": True}

    training_args = _training_arguments(args, output_dir, lr_scheduler_type="linear", warmup_steps=0)
    return Trainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate_fn)


# 2. One configuration in this process --------------------------------------------------------------------------

def worker(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import TrainerCallback

    torch.set_num_threads(args.threads)

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as output_dir:
        trainer = build_theirs(args, output_dir) if name == "theirs" else build_ours(args, output_dir,
                                                                                       augment=name == "ours")
        clock = StepClock()
        trainer.add_callback(clock)
        before_train = rss_mib()
        trainer.train()
        peak = peak_rss_mib()
        # Steps warmup+1 .. warmup+steps: from the end of the last warm-up step to the end of the last step.
        timed = clock.ends[max(args.warmup_steps - 1, 0):]
        seconds = timed[-1] - timed[0]
        steps = len(timed) - 1

        loader = iter(trainer.get_train_dataloader())
        next(loader)
        started = time.perf_counter()
        for _ in range(args.loader_batches):
            next(loader)
        loader_seconds = time.perf_counter() - started

    return {"pairs_per_s": steps * args.batch_size / seconds, "step_s": seconds / steps,
            "peak_rss_mib": peak, "peak_growth_mib": peak - before_train, "before_train_mib": before_train,
            "loader_batches_per_s": args.loader_batches / loader_seconds,
            "loader_pairs_per_s": args.loader_batches * args.batch_size / loader_seconds,
            "trainable_params_m": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad) / 1e6}


# 3. Side by side ------------------------------------------------------------------------------------------------

def _quiet_count(runs: list[dict[str, Any]]) -> int:
    return sum(r["other_cores"] <= DISTURBED_CORES for r in runs)


def report(results: dict[str, list[dict[str, Any]]]) -> str:
    """Medians over the undisturbed runs of each configuration, and the ratios ours/theirs."""
    theirs = median([r["pairs_per_s"] for r in undisturbed(results["theirs"])])
    lines = ["| configuration | pairs/s (median) | runs kept | range | ours/theirs | step (s) | peak RSS (MiB) | peak "
             "growth in train() (MiB) | loader alone (batches/s) | loader share of a step | trainable params (M) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, all_runs in results.items():
        runs = undisturbed(all_runs)
        pairs = [r["pairs_per_s"] for r in runs]
        loader = median([r["loader_batches_per_s"] for r in runs])
        step = median([r["step_s"] for r in runs])
        lines.append(
            f"| {name} | {median(pairs):.1f} | {_quiet_count(all_runs)}/{len(all_runs)} | {spread(pairs)} | "
            f"{median(pairs) / theirs:.2f}x | {step:.3f} | "
            f"{median([r['peak_rss_mib'] for r in runs]):.0f} | {median([r['peak_growth_mib'] for r in runs]):.0f} | "
            f"{loader:.2f} | {100 / loader / step:.0f}% | {runs[0]['trainable_params_m']:.2f} |")
    paired = [o["pairs_per_s"] / t["pairs_per_s"] for o, t in zip(results.get("ours", []), results["theirs"])
              if max(o["other_cores"], t["other_cores"]) <= DISTURBED_CORES]
    if paired:
        lines.append(f"\nours/theirs within each undisturbed round: {', '.join(f'{r:.2f}' for r in paired)} "
                     f"(median {median(paired):.2f}x)")
    lines.append(f"runs during which other processes kept more than {DISTURBED_CORES} cores busy are left out "
                 "(all runs are used where none was undisturbed)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each configuration (the median is reported)")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per run")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loader-batches", type=int, default=20, help="batches timed for the loader alone")
    parser.add_argument("--text-tower", choices=("bert", "e5"), default="bert",
                        help="bert: the small BERT of benchmarks/ucm/config_vit_small_128.json with the package "
                             "tokenizer; e5: the offline multilingual-e5-small in outputs/e5 (embeddings frozen)")
    parser.add_argument("--their-padding", choices=("max_length", "longest"), default="max_length",
                        help="max_length: run_clip's padding of every caption to --max-length; longest: padded per "
                             "batch in the collate function, as ours (the same text work on both sides)")
    parser.add_argument("--configurations", nargs="+", choices=CONFIGURATIONS, default=list(CONFIGURATIONS))
    parser.add_argument("--max-load", type=float, default=0.5, help="wait until the 1-minute load is below this")
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait for a quiet machine")
    parser.add_argument("--json", help="also write every run's figures here")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 2+2 steps, 2 loader batches")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps, args.warmup_steps, args.loader_batches = 1, 2, 2, 2
    if args.text_tower == "e5" and not (E5_DIR / "config.json").exists():
        parser.error(f"--text-tower e5 needs {E5_DIR} (see ../shared/tools/multilingual_e5_small)")

    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return

    if "theirs" not in args.configurations:
        parser.error("the ratios need the 'theirs' configuration")
    warm_file_cache([r["path"] for r in ucm_records("train")])
    forwarded = sys.argv[1:]  # the workers parse the same arguments (and --quick) themselves
    load = wait_for_quiet(args.max_load, args.max_wait)
    print(f"{machine_description(args.threads)}; 1-minute load average at start {load:.2f}")
    with InterferenceMeter() as meter:
        results = alternate(args.configurations, args.rounds,
                            lambda name: run_worker(__file__, [*forwarded, "--worker", name], args.threads))
    print(f"batch {args.batch_size}, {args.image_size} px, {args.warmup_steps} warm-up + {args.steps} timed steps, "
          f"text tower {args.text_tower}, theirs padded to {args.their_padding}, dataloader_num_workers 0, "
          f"{args.rounds} rounds alternating {' '.join(args.configurations)}; {meter.result.describe()}\n")
    print(report(results))
    print("\nother processes' cores during each run: "
          + "; ".join(f"{n} " + ", ".join(f"{r['other_cores']:.2f}" for r in runs) for n, runs in results.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"arguments": vars(args), "interference": vars(meter.result),
                                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
