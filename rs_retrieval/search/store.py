"""The files of an index folder, and how a new build of them becomes visible in one atomic step.

    INDEX_DIR/
      manifest.json                what the index is (model, dimension, count, FAISS parameters, code version) and
                                   which build folder holds it; replaced by an atomic rename: the commit point
      build-<id>/embeddings.npy    N x D float32, L2-normalised; row i belongs to metadata row i
      build-<id>/metadata.parquet  key, fingerprint, path, and what the gallery knows (size, mtime, label, captions...)
      build-<id>/index.faiss       the FAISS index over the embeddings (ids = rows)
      build-<id>/failures.json     images that could not be embedded, with their errors
      parts/                       batches embedded since the last commit (see indexing.py)

A build is written completely into a fresh folder before the manifest names it, so a reader (or a crash) sees
either the old index or the new one, never a mixture; older build folders are removed after the commit.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import SearchError

FORMAT = "rs_retrieval.search/1"
MANIFEST = "manifest.json"
PARTS = "parts"
BUILD_PREFIX = "build-"
EMBEDDINGS = "embeddings.npy"
METADATA = "metadata.parquet"
FAISS_INDEX = "index.faiss"
FAILURES = "failures.json"


@dataclass(frozen=True)
class Failure:
    """An image that could not be embedded: its key, where it is, why, and the fingerprint it had then."""

    key: str
    path: str | None
    error: str
    fingerprint: str = ""


@dataclass(frozen=True)
class IndexManifest:
    """The contents of `manifest.json`."""

    model: str | None
    model_fingerprint: str
    dimension: int
    count: int
    index: dict[str, Any]
    gallery: dict[str, Any]
    build: str
    failures: int = 0
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    code_version: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str) -> IndexManifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SearchError(f"{where}: not valid JSON ({error})") from error
        if data.get("format") != FORMAT:
            raise SearchError(f"{where}: format {data.get('format')!r}, expected {FORMAT!r}")
        known = cls.__dataclass_fields__
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError as error:
            raise SearchError(f"{where}: incomplete manifest ({error})") from error


def fsync_path(path: Path) -> None:
    """Flush a file or a folder entry to disk (folders: so that a rename inside it survives a crash)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(temporary)` beside `path`, flush it, then rename it over `path`: readers never see half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        fsync_path(temporary)
        os.replace(temporary, path)
        fsync_path(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda target: target.write_text(text, encoding="utf-8"))


def new_build_dir(index_dir: Path) -> Path:
    """A fresh, empty build folder inside `index_dir` (invisible to readers until a manifest names it)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    build = Path(index_dir) / f"{BUILD_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    build.mkdir(parents=True)
    return build


def write_build_files(build: Path, embeddings: np.ndarray | None, metadata: pa.Table, faiss_index: Any,
                      failures: list[Failure]) -> None:
    """Write the files of a build (embeddings may already be there, filled through a memory map) and flush them."""
    import faiss

    if embeddings is not None:
        np.save(build / EMBEDDINGS, np.ascontiguousarray(embeddings, dtype=np.float32))
    pq.write_table(metadata, build / METADATA)
    faiss.write_index(faiss_index, str(build / FAISS_INDEX))
    (build / FAILURES).write_text(json.dumps([asdict(f) for f in failures], indent=2, ensure_ascii=False),
                                  encoding="utf-8")
    for name in (EMBEDDINGS, METADATA, FAISS_INDEX, FAILURES):
        fsync_path(build / name)
    fsync_path(build)


def commit(index_dir: Path, manifest: IndexManifest) -> None:
    """Make `manifest.build` the index (atomic manifest rename), then delete every other build folder."""
    index_dir = Path(index_dir)
    atomic_write_text(index_dir / MANIFEST, manifest.to_json())
    for stale in index_dir.glob(f"{BUILD_PREFIX}*"):
        if stale.name != manifest.build and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def read_manifest(index_dir: str | os.PathLike) -> IndexManifest:
    """The committed manifest; `SearchError` when the folder is missing or holds no index."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        raise SearchError(f"{index_dir}: no such index folder")
    path = index_dir / MANIFEST
    if not path.exists():
        raise SearchError(f"{index_dir}: not an index (no {MANIFEST}); build one with `rs-retrieval index`")
    return IndexManifest.from_json(path.read_text(encoding="utf-8"), str(path))


def has_index(index_dir: str | os.PathLike) -> bool:
    return (Path(index_dir) / MANIFEST).exists()


@dataclass
class StoredIndex:
    """A committed build, opened: embeddings memory-mapped, metadata and failures read, FAISS index on demand."""

    directory: Path
    manifest: IndexManifest
    embeddings: np.ndarray
    metadata: pa.Table
    failures: list[Failure]

    def read_faiss(self) -> Any:
        import faiss

        index = faiss.read_index(str(self.directory / self.manifest.build / FAISS_INDEX))
        if index.ntotal != self.manifest.count:
            raise SearchError(f"{self.directory}: the FAISS index holds {index.ntotal} vectors, the manifest says "
                              f"{self.manifest.count}")
        if "nprobe" in self.manifest.index:
            index.nprobe = int(self.manifest.index["nprobe"])
        return index


def open_index(index_dir: str | os.PathLike) -> StoredIndex:
    """Open the committed build of `index_dir`, checking that its files agree with the manifest."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    build = index_dir / manifest.build
    missing = [name for name in (EMBEDDINGS, METADATA, FAISS_INDEX) if not (build / name).exists()]
    if missing:
        raise SearchError(f"{index_dir}: build {manifest.build} lacks {', '.join(missing)}")
    embeddings = np.load(build / EMBEDDINGS, mmap_mode="r")
    metadata = pq.read_table(build / METADATA)
    if embeddings.shape != (manifest.count, manifest.dimension) or metadata.num_rows != manifest.count:
        raise SearchError(f"{index_dir}: embeddings {embeddings.shape} and {metadata.num_rows} metadata rows do not "
                          f"match the manifest ({manifest.count} x {manifest.dimension})")
    failures = []
    if (build / FAILURES).exists():
        failures = [Failure(**f) for f in json.loads((build / FAILURES).read_text(encoding="utf-8"))]
    return StoredIndex(index_dir, manifest, embeddings, metadata, failures)


__all__ = [
    "FORMAT",
    "Failure",
    "IndexManifest",
    "StoredIndex",
    "atomic_write",
    "atomic_write_text",
    "commit",
    "fsync_path",
    "has_index",
    "new_build_dir",
    "open_index",
    "read_manifest",
    "write_build_files",
]
