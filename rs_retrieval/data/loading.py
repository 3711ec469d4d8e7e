"""Open the dataset a script is pointed at: the embedded synthetic set, or a DatasetDict saved to disk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def load_dataset_dict(name_or_path: str, synthetic_splits: Mapping[str, int] | None = None,
                      synthetic_image_size: int = 64, synthetic_seed: int = 0) -> Any:
    """`"synthetic"` draws the embedded dataset (with these per-scene split sizes); anything else is a saved folder."""
    if name_or_path == "synthetic":
        from .synthetic import make_synthetic_dataset

        return make_synthetic_dataset(splits=synthetic_splits, image_size=synthetic_image_size, seed=synthetic_seed)
    from datasets import load_from_disk

    if not Path(name_or_path).exists():
        raise FileNotFoundError(f"--dataset {name_or_path}: no such folder (or use --dataset synthetic)")
    return load_from_disk(name_or_path)


def load_split(name_or_path: str, split: str, **kwargs: Any) -> Any:
    """One split of `load_dataset_dict(name_or_path)`, with an error that lists the splits there are."""
    dataset_dict = load_dataset_dict(name_or_path, **kwargs)
    if split not in dataset_dict:
        raise ValueError(f"the dataset has no split {split!r}; it has {sorted(dataset_dict)}")
    return dataset_dict[split]


__all__ = ["load_dataset_dict", "load_split"]
