"""What an index is built from: the images of a folder (recursive) or of a `datasets` split, one item at a time.

A gallery lists its items cheaply (`items`), and only on demand says whether an item changed (`fingerprint`),
hands over its image (`load`) or its metadata (`metadata`). An item's `key` names it across runs (the path
relative to the folder; the dataset's `image_id`, else its row); its fingerprint changes when its content does
(size and modification time of a file; a hash of a dataset row's image bytes). Indexing re-embeds exactly the
items whose (key, fingerprint) it has not embedded before.
"""

from __future__ import annotations

import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from ..processing.image_conversion import ImageConversionError, pil_to_rgb
from .errors import SearchInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")


@dataclass(frozen=True, slots=True)
class GalleryItem:
    """One image of a gallery: its position in the gallery's order and its stable key."""

    position: int
    key: str


class Gallery(ABC):
    """A sequence of images with stable keys, change fingerprints, metadata and a description to reopen it."""

    @cached_property
    def items(self) -> list[GalleryItem]:
        """Every item, in the gallery's order (which is the order of the index)."""
        return self._list_items()

    def __len__(self) -> int:
        return len(self.items)

    @abstractmethod
    def _list_items(self) -> list[GalleryItem]: ...

    @abstractmethod
    def fingerprint(self, item: GalleryItem) -> str:
        """A string that changes when the item's image changes."""

    def safe_fingerprint(self, item: GalleryItem) -> str:
        """`fingerprint`, or "" when the item cannot be read now: it then never counts as unchanged, and loading
        it reports the error."""
        try:
            return self.fingerprint(item)
        except OSError:
            return ""

    @abstractmethod
    def load(self, item: GalleryItem) -> Any:
        """The image as the processor takes it (a path or a PIL image); raises `ImageConversionError` if unreadable."""

    @abstractmethod
    def metadata(self, positions: Sequence[int]) -> pa.Table:
        """One row per position (in that order): `path` and whatever else the gallery knows about the image."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the manifest records to find the images again (for result pictures)."""


class FolderGallery(Gallery):
    """Image files under `root`, recursively, sorted by relative path; hidden files and folders are skipped."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise SearchInputError(f"{root}: no such folder")

    def _list_items(self) -> list[GalleryItem]:
        relative: list[str] = []
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            base = Path(folder).relative_to(self.root)
            relative += [(base / name).as_posix() for name in files
                         if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)]
        return [GalleryItem(position, key) for position, key in enumerate(sorted(relative))]

    def path(self, item: GalleryItem) -> Path:
        return self.root / item.key

    def fingerprint(self, item: GalleryItem) -> str:
        stat = self.path(item).stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def load(self, item: GalleryItem) -> str:
        return str(self.path(item))  # the processor opens it, so band selection and TIFF fallbacks apply

    def metadata(self, positions: Sequence[int]) -> pa.Table:
        paths, sizes, mtimes = [], [], []
        for position in positions:
            path = self.path(self.items[position])
            try:
                stat = path.stat()
                size, mtime = stat.st_size, stat.st_mtime
            except OSError:
                size, mtime = None, None
            paths.append(str(path))
            sizes.append(size)
            mtimes.append(mtime)
        return pa.table({"path": pa.array(paths, pa.string()), "size": pa.array(sizes, pa.int64()),
                         "mtime": pa.array(mtimes, pa.float64())})

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "root": str(self.root)}


class DatasetGallery(Gallery):
    """The rows of one `datasets.Dataset` split; keys from its `image_id` column when unique, else row numbers."""

    def __init__(self, dataset: Any, source: str | None = None, split: str | None = None,
                 image_column: str | None = None) -> None:
        from datasets import Image as ImageFeature

        self.dataset = dataset
        self.source = source
        self.split = split
        images = [name for name, feature in dataset.features.items() if isinstance(feature, ImageFeature)]
        if image_column is None:
            if not images:
                raise SearchInputError(f"the dataset has no image column (an Image feature); its columns are "
                                  f"{dataset.column_names}")
            image_column = images[0]
        elif image_column not in dataset.column_names:
            raise SearchInputError(f"image column {image_column!r} not in the dataset; its columns are "
                              f"{dataset.column_names}")
        self.image_column = image_column
        # Undecoded access: bytes to hash and decode ourselves, so one broken row is one failure, not a crash.
        self._raw = dataset.select_columns([image_column])
        if isinstance(dataset.features[image_column], ImageFeature):
            self._raw = self._raw.cast_column(image_column, ImageFeature(decode=False))

    def _list_items(self) -> list[GalleryItem]:
        count = len(self.dataset)
        if "image_id" in self.dataset.column_names:
            ids = list(self.dataset["image_id"])
            if len(set(ids)) == count and None not in ids:
                return [GalleryItem(row, f"id:{image_id}") for row, image_id in enumerate(ids)]
        return [GalleryItem(row, f"row:{row}") for row in range(count)]

    def _encoded(self, position: int) -> Any:
        return self._raw[position][self.image_column]

    def fingerprint(self, item: GalleryItem) -> str:
        value = self._encoded(item.position)
        if isinstance(value, Mapping):
            data = value.get("bytes")
            if data is None and value.get("path"):
                data = Path(value["path"]).read_bytes()
            if data is not None:
                return hashlib.blake2b(data, digest_size=16).hexdigest()
        return hashlib.blake2b(repr(value).encode("utf-8"), digest_size=16).hexdigest()

    def load(self, item: GalleryItem) -> Any:
        value = self._encoded(item.position)
        if not isinstance(value, Mapping):
            return np.asarray(value) if isinstance(value, list) else value  # an array column: the processor converts it
        name = f"{self.split or 'dataset'}[{item.position}]"
        try:
            source = io.BytesIO(value["bytes"]) if value.get("bytes") is not None else value.get("path")
            if source is None:
                raise ImageConversionError(f"{name}: the row has no image")
            with Image.open(source) as image:
                image.load()
                return pil_to_rgb(image, name=name) if image.mode != "RGB" else image.copy()
        except ImageConversionError:
            raise
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageConversionError(f"{name}: unreadable or truncated image ({error})") from error

    def metadata(self, positions: Sequence[int]) -> pa.Table:
        from datasets import ClassLabel

        others = [name for name in self.dataset.column_names if name != self.image_column]
        table = (self.dataset.select_columns(others).with_format("arrow")[list(positions)] if others
                 else pa.table({}))
        for name in others:
            feature = self.dataset.features[name]
            if isinstance(feature, ClassLabel):  # names, not numbers, are what a result should show
                names = [feature.names[v] if v is not None and v >= 0 else None for v in table[name].to_pylist()]
                table = table.set_column(table.schema.get_field_index(name), name, pa.array(names, pa.string()))
        paths = self._paths(positions, table)
        columns = {"path": pa.array(paths, pa.string()), "row": pa.array(list(positions), pa.int64())}
        for name in table.column_names:
            if name not in columns:
                columns[name] = table[name]
        return pa.table(columns)

    def _paths(self, positions: Sequence[int], table: pa.Table) -> list[str]:
        """The `filename` column if there is one, else the image's own path, else `split[row]`."""
        if "filename" in table.column_names:
            names = table["filename"].to_pylist()
        else:
            encoded = [self._encoded(p) for p in positions]
            names = [value.get("path") if isinstance(value, Mapping) else None for value in encoded]
        return [name or f"{self.split or 'dataset'}[{p}]" for name, p in zip(names, positions)]

    def describe(self) -> dict[str, Any]:
        return {"kind": "dataset", "source": self.source, "split": self.split, "image_column": self.image_column}


class SequenceGallery(Gallery):
    """Images handed over in memory (PIL images, arrays or paths), with optional per-image metadata."""

    def __init__(self, images: Sequence[Any], metadata: Sequence[Mapping[str, Any]] | None = None,
                 first_key: int = 0) -> None:
        if metadata is not None and len(metadata) != len(images):
            raise SearchInputError(f"{len(metadata)} metadata rows for {len(images)} images")
        self.images = images
        self.extra = metadata
        self.first_key = first_key

    def _list_items(self) -> list[GalleryItem]:
        return [GalleryItem(n, f"item:{self.first_key + n}") for n in range(len(self.images))]

    def fingerprint(self, item: GalleryItem) -> str:
        image = self.images[item.position]
        if isinstance(image, (str, os.PathLike)):
            stat = os.stat(image)
            return f"{stat.st_size}:{stat.st_mtime_ns}"
        return ""

    def load(self, item: GalleryItem) -> Any:
        return self.images[item.position]

    def metadata(self, positions: Sequence[int]) -> pa.Table:
        rows = [dict(self.extra[p]) if self.extra is not None else {} for p in positions]
        names = list(dict.fromkeys(name for row in rows for name in row))  # every key of any row, in first-seen order
        paths = [row.get("path") or (os.fspath(self.images[p]) if isinstance(self.images[p], (str, os.PathLike))
                                     else None) for row, p in zip(rows, positions)]
        columns = {"path": pa.array(paths, pa.string())}
        columns.update({name: pa.array([row.get(name) for row in rows]) for name in names if name != "path"})
        return pa.table(columns)

    def describe(self) -> dict[str, Any]:
        return {"kind": "images"}


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").exists() or (path / "state.json").exists()


def open_gallery(source: str | os.PathLike, split: str | None = None, image_column: str | None = None) -> Gallery:
    """A folder of images, a dataset saved with `save_to_disk` (pick `split` of a DatasetDict) or `"synthetic"`.

    Raises `SearchInputError` naming the problem: no such path, a file instead of a folder, an unknown split, no images.
    """
    text = os.fspath(source)
    if text == "synthetic" or (Path(text).is_dir() and _is_saved_dataset(Path(text))):
        from ..data.loading import load_dataset_dict

        data = load_dataset_dict(text)
        gallery: Gallery = DatasetGallery(_pick_split(data, split, text), source=text if text == "synthetic"
                                          else str(Path(text).resolve()), split=split or _only_split(data),
                                          image_column=image_column)
    else:
        path = Path(text)
        if not path.exists():
            raise SearchInputError(f"{text}: no such folder")
        if not path.is_dir():
            raise SearchInputError(f"{text}: is a file; give a folder of images or a dataset saved with save_to_disk")
        if split is not None:
            raise SearchInputError(f"--split {split}: {text} is a plain folder of images, not a saved dataset")
        gallery = FolderGallery(path)
    if len(gallery) == 0:
        looked_for = "" if isinstance(gallery, DatasetGallery) else f" (looked for {', '.join(IMAGE_SUFFIXES)})"
        raise SearchInputError(f"{text}: the gallery is empty: no images{looked_for}")
    return gallery


def _only_split(data: Any) -> str | None:
    return next(iter(data)) if hasattr(data, "keys") and len(data) == 1 else None


def _pick_split(data: Any, split: str | None, name: str) -> Any:
    if not hasattr(data, "keys"):  # a single saved Dataset
        return data
    if split is None:
        if len(data) != 1:
            raise SearchInputError(f"{name} has splits {sorted(data)}; choose one with --split")
        return data[next(iter(data))]
    if split not in data:
        raise SearchInputError(f"{name} has no split {split!r}; it has {sorted(data)}")
    return data[split]


__all__ = ["IMAGE_SUFFIXES", "DatasetGallery", "FolderGallery", "Gallery", "GalleryItem", "SequenceGallery",
           "open_gallery"]
