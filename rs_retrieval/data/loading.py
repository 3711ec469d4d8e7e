"""Open the dataset a script is pointed at: the embedded synthetic set, or a DatasetDict saved to disk.

Every problem a user can cause here (a missing folder, a folder that is not a saved dataset, a split or caption
language the dataset lacks) is a `UsageError` that names the flag, what was found and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError


def load_dataset_dict(name_or_path: str, synthetic_splits: Mapping[str, int] | None = None,
                      synthetic_image_size: int = 64, synthetic_seed: int = 0, flag: str = "--dataset") -> Any:
    """`"synthetic"` draws the embedded dataset (with these per-scene split sizes); anything else is a saved folder."""
    if name_or_path == "synthetic":
        from .synthetic import make_synthetic_dataset

        return make_synthetic_dataset(splits=synthetic_splits, image_size=synthetic_image_size, seed=synthetic_seed)
    from datasets import load_from_disk

    folder = Path(name_or_path)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise UsageError(f"{flag} {name_or_path}: {what} (give a folder written by build_dataset.py or "
                         f"make_synthetic.py, or {flag} synthetic)")
    try:
        return load_from_disk(str(folder))
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{flag} {name_or_path}: not a saved dataset ({' '.join(str(error).split())})") from error


def named_split(dataset_dict: Any, split: str, flag: str = "--split", fix: str = "") -> Any:
    """`dataset_dict[split]`, or a `UsageError` that lists the splits there are (and `fix`, how to get one)."""
    from datasets import DatasetDict

    if not isinstance(dataset_dict, DatasetDict):
        raise UsageError(f"{flag} {split}: the dataset is a single split, not a DatasetDict with named splits; "
                         "save it as DatasetDict({'test': dataset}) or build it with build_dataset.py")
    if split not in dataset_dict:
        raise UsageError(f"{flag} {split}: the dataset has no split {split!r}; it has {sorted(dataset_dict)}"
                         + (f". {fix}" if fix else ""))
    return dataset_dict[split]


def load_split(name_or_path: str, split: str, flag: str = "--split", **kwargs: Any) -> Any:
    """One split of `load_dataset_dict(name_or_path)`, with an error that lists the splits there are."""
    return named_split(load_dataset_dict(name_or_path, **kwargs), split, flag)


def check_caption_languages(split: Any, languages: Sequence[str], flag: str = "--languages") -> list[str]:
    """The languages, after checking the split has a `captions_<code>` column for each (else a `UsageError`)."""
    available = [c.removeprefix("captions_") for c in split.column_names if c.startswith("captions_")]
    languages = list(languages)
    if not languages:
        raise UsageError(f"{flag}: name at least one caption language (the dataset has {available})")
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise UsageError(f"{flag} {','.join(languages)}: the dataset has no captions_{missing[0]} column; "
                         f"its caption languages are {available}")
    return languages


def parse_languages(text: str | None) -> list[str] | None:
    """`"en, ar"` -> `["en", "ar"]`; None stays None (all languages); a list with no code is an empty list."""
    if text is None:
        return None
    return [lang.strip() for lang in text.split(",") if lang.strip()]


__all__ = ["check_caption_languages", "load_dataset_dict", "load_split", "named_split", "parse_languages"]
