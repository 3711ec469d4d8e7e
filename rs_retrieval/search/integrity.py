"""Checks that an index folder is what `rs-retrieval index` wrote: a damaged or hostile file is a clear error that
says to rebuild, never a traceback and never a wrong answer, and nothing outside the folder is read.

* Every data file's size and SHA-256 are recorded in the manifest when the build is written, and checked on every
  open (one sequential read of the files: about 1 s per GB on one core; 0.2 s for 100k vectors of 512 floats).
  A manifest without checksums (written before they were recorded) gets the content checks instead: finite,
  unit-length rows.
* The manifest's fields are checked for type and range before anything uses them; names it gives (the build
  folder, the data files) must stay inside the index folder, symlinks included.
* Rows are checked before a build is committed, so garbage never gets a checksum.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .errors import SearchError

#: A unit row's norm may be off by this much (float32 rounding, or a half-precision model's vectors).
NORM_TOLERANCE = 1e-2
CHUNK_ROWS = 65_536
HASH_CHUNK_BYTES = 1 << 20
BUILD_NAME = re.compile(r"build-[A-Za-z0-9_.-]+")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
GALLERY_KINDS = ("folder", "dataset", "images", "mixed")


class DamagedIndexError(SearchError):
    """An index file that is not what `rs-retrieval index` wrote; the message names it and says to rebuild."""

    def __init__(self, where: str | Path, problem: str) -> None:
        super().__init__(f"{where}: the index is damaged ({problem}); rebuild it: run `rs-retrieval index` with "
                         "--rebuild (or into a new --out folder)")


# -- paths ------------------------------------------------------------------------------------------------------------


def check_build_name(name: str) -> str:
    """A build folder name is one plain `build-...` path component: no separator, no `..`, nothing absolute."""
    if not BUILD_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"the build name {name!r} is not a build folder of this index")
    return name


def contained(root: Path, path: Path, what: str) -> Path:
    """`path` resolved (symlinks followed); `DamagedIndexError` when that leaves `root` (an already resolved folder)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise DamagedIndexError(root, f"{what} leads to {resolved}, outside the index folder")
    return resolved


def is_plain_absolute(text: str) -> bool:
    """An absolute path without `..` parts (what the manifest may record as a gallery's location)."""
    path = PurePosixPath(text)
    return path.is_absolute() and ".." not in path.parts


# -- checksums ------------------------------------------------------------------------------------------------------


def file_record(path: Path) -> dict[str, Any]:
    """What the manifest records of a data file: its size and SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def check_file(path: Path, record: Mapping[str, Any], where: Path) -> None:
    """`DamagedIndexError` when the file's size or SHA-256 differs from the manifest's record (size first: free)."""
    size = path.stat().st_size
    if size != record["size"]:
        raise DamagedIndexError(where, f"{path.name} has {size} bytes, the manifest recorded {record['size']}")
    if file_record(path)["sha256"] != record["sha256"]:
        raise DamagedIndexError(where, f"{path.name} does not match its checksum recorded in the manifest")


# -- vectors ---------------------------------------------------------------------------------------------------------


def row_problem(vectors: np.ndarray) -> str | None:
    """What is wrong with the rows of an N x D array (read in chunks: a memory map stays cheap), or None."""
    for start in range(0, len(vectors), CHUNK_ROWS):
        chunk = np.asarray(vectors[start:start + CHUNK_ROWS], dtype=np.float64)
        finite = np.isfinite(chunk).all(axis=1)
        if not finite.all():
            return f"row {start + int(np.argmin(finite))} holds NaN or infinite values"
        norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))
        off = np.abs(norms - 1.0) > NORM_TOLERANCE
        if off.any():
            row = int(np.argmax(off))
            return f"row {start + row} has length {norms[row]:.4g}; every row must be a unit vector"
    return None


# -- the manifest -----------------------------------------------------------------------------------------------------

_REQUIRED = {"format": str, "model_fingerprint": str, "dimension": int, "count": int, "index": dict, "gallery": dict,
             "build": str}
_OPTIONAL = {"model": (str, type(None)), "failures": int, "created": str, "code_version": dict, "files": dict}


def _is(value: Any, types: type | tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and types is int)


def manifest_problem(data: Any, data_files: tuple[str, ...], index_kinds: tuple[str, ...]) -> str | None:
    """What is wrong with a parsed manifest (types, ranges, names), or None."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        return f"it lacks {', '.join(missing)}"
    for key, types in {**_REQUIRED, **_OPTIONAL}.items():
        if key in data and not _is(data[key], types):
            return f"{key} is {data[key]!r}, of the wrong type"
    checks = (
        (data["dimension"] >= 1, f"dimension {data['dimension']} is not positive"),
        (data["count"] >= 1, f"count {data['count']} is not positive"),
        (data.get("failures", 0) >= 0, f"failures {data.get('failures')} is negative"),
    )
    for ok, problem in checks:
        if not ok:
            return problem
    try:
        check_build_name(data["build"])
    except ValueError as error:
        return str(error)
    return (_index_problem(data["index"], index_kinds) or _gallery_problem(data["gallery"])
            or _files_problem(data.get("files"), data_files))


def _index_problem(index: Mapping[str, Any], kinds: tuple[str, ...]) -> str | None:
    if index.get("kind") not in kinds:
        return f"index kind {index.get('kind')!r} is not one of {kinds}"
    for key in ("nlist", "nprobe", "count", "exact_threshold"):
        if key in index and not (_is(index[key], int) and index[key] >= 1):
            return f"index {key} {index[key]!r} is not a positive integer"
    return None


def _gallery_problem(gallery: Mapping[str, Any]) -> str | None:
    kind = gallery.get("kind")
    if kind not in GALLERY_KINDS:
        return f"gallery kind {kind!r} is not one of {GALLERY_KINDS}"
    location = {"folder": "root", "dataset": "source"}.get(kind)
    if location is None:
        return None
    value = gallery.get(location)
    if kind == "dataset" and value in ("synthetic", None):
        return None
    if not isinstance(value, str) or not is_plain_absolute(value):
        return f"gallery {location} {value!r} is not an absolute local path"
    for key in ("split", "image_column"):
        if gallery.get(key) is not None and not isinstance(gallery[key], str):
            return f"gallery {key} {gallery[key]!r} is not text"
    return None


def _files_problem(files: Mapping[str, Any] | None, data_files: tuple[str, ...]) -> str | None:
    if files is None:
        return None
    if set(files) != set(data_files):
        return f"files names {sorted(files)}, expected {sorted(data_files)}"
    for name, record in files.items():
        if not (isinstance(record, dict) and _is(record.get("size"), int) and record["size"] >= 0
                and isinstance(record.get("sha256"), str) and SHA256_HEX.fullmatch(record["sha256"])):
            return f"the checksum record of {name} is {record!r}, not {{size, sha256}}"
    return None


__all__ = [
    "DamagedIndexError",
    "NORM_TOLERANCE",
    "check_build_name",
    "check_file",
    "contained",
    "file_record",
    "is_plain_absolute",
    "manifest_problem",
    "row_problem",
]
