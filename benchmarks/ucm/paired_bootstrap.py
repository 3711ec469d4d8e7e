"""Paired bootstrap over test images: how much of a difference in mR between two models is noise?

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ucm/paired_bootstrap.py --dataset outputs/ucm_bilingual_val \
        --a outputs/ucm_runs/ours_en_ar --b peer:outputs/ucm_runs/peer --languages en,ar [--rounds 1000]

A model is a DualEncoderModel checkpoint folder, or `peer:FOLDER` for a VisionTextDualEncoderModel saved by
benchmarks/ucm_peer_baseline.py. Each round resamples the test images with replacement (an image keeps its
captions) and computes both models' mR on the same resample; it prints mR(a) - mR(b) on the full split and the
2.5/97.5 percentiles of the resampled differences, per query language.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import torch
from datasets import load_from_disk

from rs_retrieval.evaluation import retrieval_recall

HERE = Path(__file__).resolve().parent


def embed(spec: str, split, languages: list[str]) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, list[int]]]]:
    if spec.startswith("peer:"):
        from transformers import VisionTextDualEncoderModel, VisionTextDualEncoderProcessor

        module_spec = importlib.util.spec_from_file_location("ucm_peer_baseline", HERE.parent / "ucm_peer_baseline.py")
        peer = importlib.util.module_from_spec(module_spec)
        sys.modules["ucm_peer_baseline"] = peer  # its dataclasses look their module up
        module_spec.loader.exec_module(peer)
        folder = spec.removeprefix("peer:")
        model = VisionTextDualEncoderModel.from_pretrained(folder).eval()
        processor = VisionTextDualEncoderProcessor.from_pretrained(folder)
        return peer.split_embeddings(model, processor, split, languages, "query: ", 48)
    from transformers import AutoModel, AutoProcessor

    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval.evaluation import flatten_captions
    from rs_retrieval.inference import embed_images, embed_texts

    model = AutoModel.from_pretrained(spec).eval()
    processor = AutoProcessor.from_pretrained(spec)
    images = embed_images(model, processor, split["image"])
    texts = {}
    for lang in languages:
        captions, index = flatten_captions(split, [lang])
        texts[lang] = (embed_texts(model, processor, captions), index)
    return images, texts


def resampled_mr(images: torch.Tensor, texts: torch.Tensor, index: list[int], sample: torch.Tensor) -> float:
    """mR on the images `sample` (with repeats); each drawn image brings its own captions."""
    index_t = torch.tensor(index)
    rows, owners = [], []
    for new_row, image in enumerate(sample.tolist()):
        caption_rows = torch.nonzero(index_t == image).squeeze(1)
        rows.append(caption_rows)
        owners.extend([new_row] * len(caption_rows))
    return retrieval_recall(images[sample], texts[torch.cat(rows)], owners)["mr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--languages", default="en,ar")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    split = load_from_disk(args.dataset)[args.split]
    languages = args.languages.split(",")
    with torch.inference_mode():
        a_images, a_texts = embed(args.a, split, languages)
        b_images, b_texts = embed(args.b, split, languages)
        generator = torch.Generator().manual_seed(args.seed)
        n = len(split)
        samples = [torch.randint(n, (n,), generator=generator) for _ in range(args.rounds)]
        for lang in languages:
            full = torch.arange(n)
            delta = (resampled_mr(a_images, *a_texts[lang], full) - resampled_mr(b_images, *b_texts[lang], full))
            deltas = torch.tensor([resampled_mr(a_images, *a_texts[lang], s) - resampled_mr(b_images, *b_texts[lang], s)
                                   for s in samples])
            low, high = torch.quantile(deltas, torch.tensor([0.025, 0.975])).tolist()
            print(f"{lang}: mR(a) - mR(b) = {delta:+.2f}; 95% paired-bootstrap interval [{low:+.2f}, {high:+.2f}]; "
                  f"P(a > b) = {(deltas > 0).float().mean():.3f}")


if __name__ == "__main__":
    main()
