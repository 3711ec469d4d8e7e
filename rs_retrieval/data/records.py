"""One image with its captions, as the builders pass it around, and its conversion to a `DatasetDict`.

Captions are kept per language code, aligned with the English ones (`None` where a translation is still
missing), so translations can be attached from a file and the gaps filled by a model afterwards. Only the
final conversion drops the gaps: `captions_<code>` columns hold the translations that exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from datasets import Image as ImageFeature

SOURCE_LANGUAGE = "en"
SPLIT_ORDER = ("train", "validation", "test")
# Karpathy split names -> datasets split names; anything else is reported as a bad split.
SPLIT_ALIASES = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}


@dataclass
class ImageRecord:
    """An image of one source with its English captions and any translations (aligned, `None` = missing)."""

    filename: str
    split: str
    captions: dict[str, list[str | None]]
    source: str
    image_id: int
    sentids: list[int | None] = field(default_factory=list)
    label: str | None = None
    path: str = ""
    image_bytes: bytes | None = None
    phash: int | None = None

    def translations(self, language: str) -> list[str | None]:
        """The aligned translation slots of `language`, created empty on first use."""
        return self.captions.setdefault(language, [None] * len(self.captions[SOURCE_LANGUAGE]))

    @property
    def key(self) -> str:
        return f"{self.source}:{self.filename}"


def record_languages(records: Iterable[ImageRecord], extra: Iterable[str] = ()) -> list[str]:
    """The caption languages of build records: English first, then every other code present or requested, sorted."""
    codes = {code for record in records for code in record.captions} | set(extra)
    codes.discard(SOURCE_LANGUAGE)
    return [SOURCE_LANGUAGE, *sorted(codes)]


def dataset_features(languages: Sequence[str], label_names: Sequence[str] | None) -> Features:
    """The column schema: image, ids, one caption list per language, optional class label, source."""
    columns: dict = {"image": ImageFeature(), "image_id": Value("int64"), "filename": Value("string")}
    for code in languages:
        columns[f"captions_{code}"] = List(Value("string"))
    if label_names:
        columns["label"] = ClassLabel(names=list(label_names))
    columns["source"] = Value("string")
    return Features(columns)


def records_to_dataset_dict(records: Sequence[ImageRecord], languages: Sequence[str]) -> DatasetDict:
    """One `Dataset` per non-empty split (`load_from_disk` cannot read back an empty split)."""
    label_names = sorted({record.label for record in records if record.label is not None})
    features = dataset_features(languages, label_names)
    by_split: dict[str, list[ImageRecord]] = {}
    for record in records:
        by_split.setdefault(record.split, []).append(record)
    splits = {}
    for name in SPLIT_ORDER:
        rows = by_split.get(name, [])
        if not rows:
            continue
        columns: dict[str, list] = {
            "image": [{"bytes": record.image_bytes, "path": record.filename} for record in rows],
            "image_id": [record.image_id for record in rows],
            "filename": [record.filename for record in rows],
        }
        for code in languages:
            columns[f"captions_{code}"] = [
                [caption for caption in record.captions.get(code, []) if caption is not None] for record in rows
            ]
        if label_names:
            columns["label"] = [label_names.index(r.label) if r.label is not None else None for r in rows]
        columns["source"] = [record.source for record in rows]
        splits[name] = Dataset.from_dict(columns, features=features)
    return DatasetDict(splits)


__all__ = [
    "SOURCE_LANGUAGE",
    "SPLIT_ALIASES",
    "SPLIT_ORDER",
    "ImageRecord",
    "dataset_features",
    "record_languages",
    "records_to_dataset_dict",
]
