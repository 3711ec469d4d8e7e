"""Write the embedded synthetic bilingual dataset to disk (`datasets.DatasetDict.save_to_disk`).

    python hub_scripts/make_synthetic.py --out data/synthetic --image-size 64 --seed 0

Sizes are images per scene type; the same arguments always write the same pixels and captions. An existing
non-empty --out is replaced only with --overwrite, and only once the new dataset is complete.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rs_retrieval.command_line import ArgumentParser
from rs_retrieval.data.cards import synthetic_dataset_card
from rs_retrieval.data.export import check_output_dir, write_folder
from rs_retrieval.data.synthetic import DEFAULT_SPLITS, MIN_IMAGE_SIZE, SCENE_TYPES, make_synthetic_dataset
from rs_retrieval.errors import UsageError, command
from rs_retrieval.processing.image_conversion import ImageConversionError, check_image_size

PROG = "rs-retrieval make-synthetic"


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _count(text: str) -> int:
    return _whole_number(text, 0)


def _image_size(text: str) -> int:
    """A side in pixels: at least what a scene needs to be drawn, at most what the pixel limit allows."""
    size = _whole_number(text, MIN_IMAGE_SIZE)
    try:
        check_image_size(f"--image-size {size}", size, size)
    except ImageConversionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return size


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to save the DatasetDict to")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out once the new one is ready")
    parser.add_argument("--image-size", type=_image_size, default=64, help="image side in pixels (default: 64)")
    parser.add_argument("--seed", type=_count, default=0, help="generation seed (default: 0)")
    flags = (("train", "--train-per-scene"), ("validation", "--val-per-scene"), ("test", "--test-per-scene"))
    for split, flag in flags:
        default = DEFAULT_SPLITS[split]
        parser.add_argument(flag, type=_count, default=default, help=f"{split} images per scene (default: {default})")
    return parser


@command(PROG)
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    requested = {"train": args.train_per_scene, "validation": args.val_per_scene, "test": args.test_per_scene}
    splits = {name: count for name, count in requested.items() if count > 0}  # an empty split cannot be read back
    if not splits:
        raise UsageError("every split has 0 images per scene; ask for at least one image (see --help)")
    check_output_dir(args.out, args.overwrite)  # before generating, not after
    start = time.perf_counter()
    dataset = make_synthetic_dataset(splits=splits, image_size=args.image_size, seed=args.seed)

    def write(folder: Path) -> None:
        dataset.save_to_disk(str(folder))
        synthetic_dataset_card(dataset, seed=args.seed, image_size=args.image_size).save(folder / "README.md")

    out = write_folder(args.out, write, overwrite=args.overwrite)
    print(f"synthetic dataset: {len(SCENE_TYPES)} scene types, {args.image_size}px, seed {args.seed}")
    for name, split in dataset.items():
        print(f"  {name}: {split.num_rows} images")
    print(f"saved to {out} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
