"""Build bilingual (en + ar) UCM-captions from the shared real data and print what came out.

    .venv/bin/python benchmarks/build_ucm.py [--out outputs/ucm_bilingual] [--val-fraction 0.1]

Reads ../shared/data/ucm_captions/ (dataset_ucm.json, images/, captions_ar.jsonl) in place; the output
goes under outputs/ (git-ignored) or anywhere outside the repo. Expected: train 1,890 / test 210 images
(train + validation = 1,890 with --val-fraction), 5 English and 5 Arabic captions on every image.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import datasets

from rs_retrieval.data.cards import build_dataset_card
from rs_retrieval.data.export import save_built_dataset
from rs_retrieval.data.karpathy import build_karpathy_dataset

REPO = Path(__file__).resolve().parents[1]
UCM = REPO.parent / "shared" / "data" / "ucm_captions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=UCM)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "ucm_bilingual")
    parser.add_argument("--val-fraction", type=float, default=0.0)
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()

    start = time.perf_counter()
    dataset, report = build_karpathy_dataset(
        args.data / "dataset_ucm.json",
        args.data / "images",
        source="ucm",
        translations={"ar": args.data / "captions_ar.jsonl"},
        val_fraction=args.val_fraction,
        progress=False,
    )
    built = time.perf_counter() - start
    card = build_dataset_card(dataset, report, license="other")
    out = save_built_dataset(dataset, args.out, card=card, report=report, overwrite=True)
    total = time.perf_counter() - start

    print(report.format())
    for name, split in dataset.items():
        per_image = {code: dict(Counter(len(c) for c in split[f"captions_{code}"])) for code in ("en", "ar")}
        print(f"{name}: {split.num_rows} images; captions per image (count: images) {per_image}")
    print(f"untranslated (ar): {report.language('ar').untranslated}")
    print(f"saved to {out}")
    print(f"wall time: build {built:.1f} s, build + save {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
