"""Write the embedded synthetic bilingual dataset to disk (`datasets.DatasetDict.save_to_disk`).

    python hub_scripts/make_synthetic.py --out data/synthetic --image-size 64 --seed 0

Sizes are images per scene type; the same arguments always write the same pixels and captions.
"""

from __future__ import annotations

import argparse
import sys
import time

from rs_retrieval.data.cards import synthetic_dataset_card
from rs_retrieval.data.synthetic import DEFAULT_SPLITS, SCENE_TYPES, make_synthetic_dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to save the DatasetDict to")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    for split, flag in (("train", "--train-per-scene"), ("validation", "--val-per-scene"), ("test", "--test-per-scene")):
        parser.add_argument(flag, type=int, default=DEFAULT_SPLITS[split], help=f"{split} images per scene type (default: {DEFAULT_SPLITS[split]})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    splits = {"train": args.train_per_scene, "validation": args.val_per_scene, "test": args.test_per_scene}
    start = time.perf_counter()
    dataset = make_synthetic_dataset(splits=splits, image_size=args.image_size, seed=args.seed)
    dataset.save_to_disk(args.out)
    synthetic_dataset_card(dataset, seed=args.seed, image_size=args.image_size).save(f"{args.out}/README.md")
    print(f"synthetic dataset: {len(SCENE_TYPES)} scene types, {args.image_size}px, seed {args.seed}")
    for name, split in dataset.items():
        print(f"  {name}: {split.num_rows} images")
    print(f"saved to {args.out} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
