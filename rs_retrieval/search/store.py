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
either the old index or the new one, never a mixture; older build folders are removed after the commit. The
manifest records each data file's size and SHA-256, and every open checks them and the files' structure
(integrity.py): a damaged index is an error that says to rebuild, never a wrong answer.
"""

from __future__ import annotations

import json
import os
import pickle
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

from .errors import SearchError, SearchInputError
from .faiss_index import FLAT, IVF
from .integrity import DamagedIndexError, check_file, contained, file_record, manifest_problem, row_problem

FORMAT = "rs_retrieval.search/1"
MANIFEST = "manifest.json"
PARTS = "parts"
BUILD_PREFIX = "build-"
EMBEDDINGS = "embeddings.npy"
METADATA = "metadata.parquet"
FAISS_INDEX = "index.faiss"
FAILURES = "failures.json"
DATA_FILES = (EMBEDDINGS, METADATA, FAISS_INDEX, FAILURES)
#: Metadata columns every index has, with their types.
REQUIRED_COLUMNS = {"key": pa.string(), "fingerprint": pa.string(), "path": pa.string()}


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
    files: dict[str, dict[str, Any]] | None = None  # name -> {size, sha256}; None in manifests older than checksums

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str) -> IndexManifest:
        """The manifest in `text`; `DamagedIndexError` for anything but a complete manifest of this format."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DamagedIndexError(where, f"not valid JSON: {error}") from error
        if isinstance(data, dict) and data.get("format") != FORMAT:
            raise DamagedIndexError(where, f"format {data.get('format')!r}, expected {FORMAT!r}")
        problem = manifest_problem(data, DATA_FILES, (FLAT, IVF))
        if problem:
            raise DamagedIndexError(where, problem)
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})


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
                      failures: list[Failure]) -> dict[str, dict[str, Any]]:
    """Write the files of a build (embeddings may already be there, filled through a memory map), flush them and
    return their checksum records for the manifest. Rows that are not finite unit vectors are refused here, so
    garbage never gets a checksum."""
    import faiss

    if embeddings is not None:
        np.save(build / EMBEDDINGS, np.ascontiguousarray(embeddings, dtype=np.float32))
    problem = row_problem(np.load(build / EMBEDDINGS, mmap_mode="r"))
    if problem:
        raise SearchError(f"the model's vectors are not fit to index ({problem}); nothing was committed")
    pq.write_table(metadata, build / METADATA)
    faiss.write_index(faiss_index, str(build / FAISS_INDEX))
    (build / FAILURES).write_text(json.dumps([asdict(f) for f in failures], indent=2, ensure_ascii=False),
                                  encoding="utf-8")
    for name in DATA_FILES:
        fsync_path(build / name)
    fsync_path(build)
    return {name: file_record(build / name) for name in DATA_FILES}


def commit(index_dir: Path, manifest: IndexManifest) -> None:
    """Make `manifest.build` the index (atomic manifest rename), then delete every other build folder."""
    index_dir = Path(index_dir)
    atomic_write_text(index_dir / MANIFEST, manifest.to_json())
    for stale in index_dir.glob(f"{BUILD_PREFIX}*"):
        if stale.name != manifest.build and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def read_manifest(index_dir: str | os.PathLike) -> IndexManifest:
    """The committed manifest; `SearchInputError` when the folder is missing or holds no index."""
    index_dir = Path(index_dir)
    if index_dir.exists() and not index_dir.is_dir():
        raise SearchInputError(f"{index_dir}: is a file, not an index folder")
    if not index_dir.is_dir():
        raise SearchInputError(f"{index_dir}: no such index folder")
    path = index_dir / MANIFEST
    if not path.exists():
        raise SearchInputError(f"{index_dir}: not an index (no {MANIFEST}); build one with `rs-retrieval index`")
    contained(index_dir.resolve(), path, MANIFEST)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DamagedIndexError(path, f"not UTF-8 text: {error}") from error
    return IndexManifest.from_json(text, str(path))


def has_index(index_dir: str | os.PathLike) -> bool:
    return (Path(index_dir) / MANIFEST).exists()


@dataclass
class StoredIndex:
    """A committed build, opened and checked: embeddings memory-mapped, metadata and failures read, FAISS on demand."""

    directory: Path
    manifest: IndexManifest
    embeddings: np.ndarray
    metadata: pa.Table
    failures: list[Failure]
    paths: dict[str, Path] = field(default_factory=dict)

    def read_faiss(self) -> Any:
        """The FAISS index, checked against the manifest (kind, metric, dimension, count)."""
        import faiss

        try:
            index = faiss.read_index(str(self.paths[FAISS_INDEX]))
        except RuntimeError as error:
            raise DamagedIndexError(self.directory, f"{FAISS_INDEX} is truncated or not a FAISS index") from error
        problem = _faiss_problem(index, self.manifest)
        if problem:
            raise DamagedIndexError(self.directory, f"{FAISS_INDEX}: {problem}")
        if "nprobe" in self.manifest.index:
            index.nprobe = int(self.manifest.index["nprobe"])
        return index


def open_index(index_dir: str | os.PathLike) -> StoredIndex:
    """Open the committed build of `index_dir` and check every file against the manifest (see integrity.py).

    Raises `DamagedIndexError` (which says to rebuild) for a file that is missing, changed since the build, of
    the wrong structure, or outside the index folder.
    """
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    root = index_dir.resolve()
    build = contained(root, root / manifest.build, f"the build folder {manifest.build}")
    if not build.is_dir():
        raise DamagedIndexError(index_dir, f"the build folder {manifest.build} is missing")
    paths = {name: contained(root, build / name, name) for name in DATA_FILES}
    required = DATA_FILES if manifest.files is not None else (EMBEDDINGS, METADATA, FAISS_INDEX)
    missing = [name for name in required if not paths[name].is_file()]
    if missing:
        raise DamagedIndexError(index_dir, f"build {manifest.build} lacks {', '.join(missing)}")
    for name, record in (manifest.files or {}).items():
        check_file(paths[name], record, index_dir)
    embeddings = _read_embeddings(paths[EMBEDDINGS], manifest, index_dir)
    metadata = _read_metadata(paths[METADATA], manifest, index_dir)
    failures = _read_failures(paths[FAILURES], manifest, index_dir) if paths[FAILURES].is_file() else []
    return StoredIndex(index_dir, manifest, embeddings, metadata, failures, paths)


def _first_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _read_embeddings(path: Path, manifest: IndexManifest, where: Path) -> np.ndarray:
    """The N x D float32 memory map; pickles are never loaded. Without checksums, every row is checked too."""
    try:
        embeddings = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, pickle.UnpicklingError) as error:
        raise DamagedIndexError(where, f"{EMBEDDINGS} is not a readable array: {_first_line(error)}") from error
    if not isinstance(embeddings, np.ndarray):
        raise DamagedIndexError(where, f"{EMBEDDINGS} is an archive, not one array")
    if embeddings.dtype != np.float32:
        raise DamagedIndexError(where, f"{EMBEDDINGS} holds {embeddings.dtype}, not float32")
    expected = (manifest.count, manifest.dimension)
    if embeddings.shape != expected:
        raise DamagedIndexError(where, f"{EMBEDDINGS} has shape {embeddings.shape}, the manifest says {expected}")
    problem = row_problem(embeddings) if manifest.files is None else None
    if problem:
        raise DamagedIndexError(where, f"{EMBEDDINGS}: {problem}")
    return embeddings


def _read_metadata(path: Path, manifest: IndexManifest, where: Path) -> pa.Table:
    try:
        metadata = pq.read_table(path)
    except (pa.ArrowException, ValueError) as error:
        raise DamagedIndexError(where, f"{METADATA} is not readable Parquet: {_first_line(error)}") from error
    for name, kind in REQUIRED_COLUMNS.items():
        if name not in metadata.column_names or metadata.schema.field(name).type != kind:
            raise DamagedIndexError(where, f"{METADATA} lacks a {kind} column {name!r}")
    if metadata.num_rows != manifest.count:
        raise DamagedIndexError(where, f"{METADATA} has {metadata.num_rows} rows, the manifest says {manifest.count}")
    return metadata


def _read_failures(path: Path, manifest: IndexManifest, where: Path) -> list[Failure]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DamagedIndexError(where, f"{FAILURES} is not valid JSON: {error}") from error
    if not isinstance(entries, list) or not all(_is_failure(entry) for entry in entries):
        raise DamagedIndexError(where, f"{FAILURES} is not a list of {{key, path, error, fingerprint}} objects")
    if len(entries) != manifest.failures:
        raise DamagedIndexError(where, f"{FAILURES} lists {len(entries)} images, the manifest says {manifest.failures}")
    return [Failure(**entry) for entry in entries]


def _is_failure(entry: Any) -> bool:
    return (isinstance(entry, dict) and set(entry) <= set(Failure.__dataclass_fields__)
            and isinstance(entry.get("key"), str) and isinstance(entry.get("error"), str)
            and isinstance(entry.get("path"), (str, type(None))) and isinstance(entry.get("fingerprint", ""), str))


def _faiss_problem(index: Any, manifest: IndexManifest) -> str | None:
    import faiss

    kind = manifest.index["kind"]
    expected_type = faiss.IndexIVFFlat if kind == IVF else faiss.IndexFlat
    if not isinstance(index, expected_type) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        return f"a {type(index).__name__} index, the manifest says {kind} (inner product)"
    if index.d != manifest.dimension:
        return f"{index.d}-dimensional, the manifest says {manifest.dimension}"
    if index.ntotal != manifest.count:
        return f"holds {index.ntotal} vectors, the manifest says {manifest.count}"
    return None


def index_output_folder(path: str) -> Path:
    """`--out` of `index`: a new or empty folder, or one that already holds an index (or its unfinished parts).

    Indexing deletes stale `build-*` folders in its output, so any other folder is refused: nothing of the user's
    is ever removed.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise SearchInputError(f"--out {path}: is a file, not an index folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).exists() \
            and not (folder / PARTS).is_dir():
        raise SearchInputError(f"--out {path}: a folder that holds other files and no index; "
                               "give a new or empty folder")
    return folder


__all__ = [
    "DATA_FILES",
    "DamagedIndexError",
    "FORMAT",
    "Failure",
    "IndexManifest",
    "StoredIndex",
    "atomic_write",
    "atomic_write_text",
    "commit",
    "fsync_path",
    "has_index",
    "index_output_folder",
    "new_build_dir",
    "open_index",
    "read_manifest",
    "write_build_files",
]
