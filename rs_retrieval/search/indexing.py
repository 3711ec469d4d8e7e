"""Resumable, shardable indexing of a gallery into an index folder (layout in store.py).

1. Every process lists the gallery and takes its shard: the items whose key hashes (CRC-32) to its rank, a stable
   assignment that does not depend on what is already done or on the other processes' progress.
2. It skips the items whose (key, fingerprint) is already embedded, in the committed index or in a part file,
   and embeds the rest batch by batch. Each batch goes to its own part file (Parquet: key, fingerprint, vector,
   error), written to a temporary name and renamed, so a killed run keeps every batch it finished.
3. It writes its shard's listing (position, key, fingerprint) and waits at a barrier for the others.
4. The main process merges: vectors for the listed items in gallery order, from the parts and the previous
   index; writes a new build (embeddings, metadata, FAISS index, failures), commits the manifest, then deletes
   the parts it consumed. Nothing is deleted before the commit, so a crash anywhere loses no finished batch.

Changed items get a new fingerprint and are re-embedded; items gone from the gallery drop out at the merge;
images that fail to load are reported with their error, and tried again once they change. The committed index is
verified before anything of it is reused (store.open_index) and the merged vectors before they are committed, so a
damaged index is reported, never carried into the next one; `rebuild=True` ignores it and embeds everything again.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..provenance import code_version as provenance_code_version
from .embedder import EmbeddedBatch, embed_items, embedding_dimension, model_fingerprint
from .errors import SearchError
from .faiss_index import EXACT_SEARCH_MAX_VECTORS, build_faiss_index, choose_kind
from .gallery import Gallery
from .store import (
    EMBEDDINGS,
    PARTS,
    Failure,
    IndexManifest,
    atomic_write,
    commit,
    has_index,
    new_build_dir,
    open_index,
    read_manifest,
    write_build_files,
)

PART_PREFIX = "part-"
LISTING_PREFIX = "listing-"


@dataclass
class IndexingReport:
    """What a run did. `embedded`: vectors new since the last commit; `reused`: carried over from it."""

    index_dir: Path
    total: int
    indexed: int = 0
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    failures: list[Failure] = field(default_factory=list)
    manifest: IndexManifest | None = None
    up_to_date: bool = False
    merged: bool = False  # False on the processes other than the main one


def shard_of(key: str, world_size: int) -> int:
    """The process that embeds `key`: the same on every process and every run with this many processes."""
    return zlib.crc32(key.encode("utf-8")) % world_size


def distributed_state() -> Any:
    """accelerate's process state; gloo on CPU-only machines (torchrun / accelerate launch start the processes)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


# -- the files of a run ---------------------------------------------------------------------------------------------


def _part_files(index_dir: Path) -> list[Path]:
    return sorted((index_dir / PARTS).glob(f"{PART_PREFIX}*.parquet"))


def _check_compatible(index_dir: Path, fingerprint: str, dimension: int, rebuild: bool = False) -> None:
    """Refuse to mix vectors of two models in one folder (the committed index, unless rebuilt, and any part files)."""
    sources: list[tuple[str, str, int, str | None]] = []
    if has_index(index_dir) and not rebuild:
        manifest = read_manifest(index_dir)
        sources.append(("the index", manifest.model_fingerprint, manifest.dimension, manifest.model))
    for part in _part_files(index_dir):
        meta = pq.read_schema(part).metadata or {}
        sources.append((f"part {part.name}", meta.get(b"model_fingerprint", b"").decode(),
                        int(meta.get(b"dimension", b"0")), meta.get(b"model", b"").decode() or None))
    for what, other_fingerprint, other_dimension, other_model in sources:
        if other_dimension != dimension:
            raise SearchError(f"{index_dir}: the model embeds into {dimension} dimensions but {what} holds "
                              f"{other_dimension}-dimensional vectors (model {other_model}); index into a new folder")
        if other_fingerprint != fingerprint:
            raise SearchError(f"{index_dir}: {what} was embedded by another model ({other_model}, fingerprint "
                              f"{other_fingerprint[:12]}); index into a new folder, or delete this one to rebuild")


def _done(index_dir: Path, rebuild: bool = False) -> set[tuple[str, str]]:
    """(key, fingerprint) pairs that need no embedding: they have a vector, or failed in the committed index and
    have not changed since."""
    done: set[tuple[str, str]] = set()
    if has_index(index_dir) and not rebuild:
        stored = open_index(index_dir)
        table = stored.metadata.select(["key", "fingerprint"])
        done.update(zip(table["key"].to_pylist(), table["fingerprint"].to_pylist()))
        done.update((failure.key, failure.fingerprint) for failure in stored.failures)
    for part in _part_files(index_dir):
        table = pq.read_table(part, columns=["key", "fingerprint", "error"])
        for key, fingerprint, error in zip(*(table[c].to_pylist() for c in ("key", "fingerprint", "error"))):
            if error is None:
                done.add((key, fingerprint))
    return done


def _write_part(index_dir: Path, rank: int, batch: EmbeddedBatch, fingerprint: str, dimension: int,
                model_name: str | None) -> Path:
    """One batch as one Parquet file; failures are rows with an error (and a zero vector)."""
    keys = [item.key for item in batch.items] + [item.key for item, _, _ in batch.failed]
    fingerprints = batch.fingerprints + [fp for _, fp, _ in batch.failed]
    vectors = np.concatenate([batch.embeddings, np.zeros((len(batch.failed), dimension), np.float32)])
    errors = [None] * len(batch.items) + [error for _, _, error in batch.failed]
    table = pa.table({
        "key": pa.array(keys, pa.string()),
        "fingerprint": pa.array(fingerprints, pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dimension),
        "error": pa.array(errors, pa.string()),
    }).replace_schema_metadata({"model_fingerprint": fingerprint, "dimension": str(dimension),
                                "model": model_name or ""})
    path = index_dir / PARTS / f"{PART_PREFIX}{rank:03d}-{uuid.uuid4().hex}.parquet"
    return atomic_write(path, lambda target: pq.write_table(table, target))


def _write_listing(index_dir: Path, rank: int, world_size: int, rows: list[tuple[int, str, str]]) -> Path:
    positions, keys, fingerprints = zip(*rows) if rows else ((), (), ())
    table = pa.table({"position": pa.array(positions, pa.int64()), "key": pa.array(keys, pa.string()),
                      "fingerprint": pa.array(fingerprints, pa.string())})
    path = index_dir / PARTS / f"{LISTING_PREFIX}{rank:03d}-of-{world_size:03d}.parquet"
    return atomic_write(path, lambda target: pq.write_table(table, target))


def _part_vectors(table: pa.Table, dimension: int) -> np.ndarray:
    return np.asarray(table["embedding"].combine_chunks().flatten(), dtype=np.float32).reshape(-1, dimension)


# -- one process's share ----------------------------------------------------------------------------------------------


def embed_shard(model: torch.nn.Module, processor: Any, gallery: Gallery, index_dir: Path, rank: int,
                world_size: int, fingerprint: str, batch_size: int, model_name: str | None, progress: bool,
                after_part: Callable[[int], None] | None = None, rebuild: bool = False) -> int:
    """Embed this process's not-yet-embedded items into part files and write its listing; the number embedded."""
    dimension = embedding_dimension(model)
    _check_compatible(index_dir, fingerprint, dimension, rebuild)
    (index_dir / PARTS).mkdir(parents=True, exist_ok=True)
    mine = [item for item in gallery.items if shard_of(item.key, world_size) == rank]
    fingerprints = [gallery.safe_fingerprint(item) for item in mine]
    done = _done(index_dir, rebuild)
    todo = [(item, fp) for item, fp in zip(mine, fingerprints) if (item.key, fp) not in done]
    embedded = 0
    description = f"embedding (process {rank + 1}/{world_size})" if world_size > 1 else "embedding"
    batches = embed_items(model, processor, gallery, [item for item, _ in todo], [fp for _, fp in todo],
                          batch_size=batch_size, progress=progress, description=description)
    for number, batch in enumerate(batches, 1):
        _write_part(index_dir, rank, batch, fingerprint, dimension, model_name)
        embedded += len(batch.items)
        if after_part is not None:
            after_part(number)
    _write_listing(index_dir, rank, world_size, [(item.position, item.key, fp) for item, fp in zip(mine, fingerprints)])
    return embedded


# -- the merge (main process) ------------------------------------------------------------------------------------------


def _read_listing(index_dir: Path, world_size: int, total: int) -> pa.Table:
    paths = [index_dir / PARTS / f"{LISTING_PREFIX}{rank:03d}-of-{world_size:03d}.parquet"
             for rank in range(world_size)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise SearchError(f"{index_dir}: listings {missing} were not written; did a process fail?")
    listing = pa.concat_tables([pq.read_table(p) for p in paths]).sort_by("position")
    if listing.num_rows != total:
        raise SearchError(f"{index_dir}: the processes listed {listing.num_rows} items, the gallery has {total}")
    return listing


def _same_plan(manifest: IndexManifest, count: int, kind: str, exact_threshold: int) -> bool:
    """Whether the committed FAISS index is what this run asks for (so an unchanged gallery needs no rebuild)."""
    if kind == "auto":
        return manifest.index.get("exact_threshold") == exact_threshold
    return manifest.index.get("kind") == choose_kind(count, kind, exact_threshold)


def _remove_listings(index_dir: Path) -> None:
    for path in (index_dir / PARTS).glob(f"{LISTING_PREFIX}*.parquet"):
        path.unlink(missing_ok=True)


def merge(gallery: Gallery, index_dir: Path, world_size: int, fingerprint: str, dimension: int,
          model_name: str | None, kind: str = "auto", exact_threshold: int = EXACT_SEARCH_MAX_VECTORS,
          code_version: dict[str, Any] | None = None, rebuild: bool = False) -> IndexingReport:
    """Build and commit the index of every listed item that has a vector; report what was new, kept, removed, failed.

    When nothing changed (no part files, the same items in the same order, the same kind of index asked for),
    the committed index stays as it is.
    """
    listing = _read_listing(index_dir, world_size, len(gallery))
    keys = listing["key"].to_pylist()
    fingerprints = listing["fingerprint"].to_pylist()
    report = IndexingReport(index_dir, total=len(keys), merged=True)

    # Where each (key, fingerprint) has a vector: source 0 is the committed index, 1.. the part files. Errors of
    # unchanged images that failed before are carried over: they are not retried until the file changes.
    previous = open_index(index_dir) if has_index(index_dir) and not rebuild else None
    parts = _part_files(index_dir)
    found: dict[tuple[str, str], tuple[int, int]] = {}
    errors: dict[tuple[str, str], str] = {}
    stored_pairs: list[tuple[str, str]] = []
    if previous is not None:
        stored = previous.metadata.select(["key", "fingerprint"])
        stored_pairs = list(zip(stored["key"].to_pylist(), stored["fingerprint"].to_pylist()))
        for row, pair in enumerate(stored_pairs):
            found.setdefault(pair, (0, row))
        errors.update({(f.key, f.fingerprint): f.error for f in previous.failures})
    for source, part in enumerate(parts, 1):
        table = pq.read_table(part, columns=["key", "fingerprint", "error"])
        for row, (key, fp, error) in enumerate(zip(*(table[c].to_pylist() for c in ("key", "fingerprint", "error")))):
            if error is None:
                found.setdefault((key, fp), (source, row))
            else:
                errors[(key, fp)] = error

    pairs = list(zip(keys, fingerprints))
    kept = [row for row, pair in enumerate(pairs) if pair in found]  # in gallery order
    lost = [row for row, pair in enumerate(pairs) if pair not in found]
    lost_paths = gallery.metadata(listing["position"].take(pa.array(lost, pa.int64())).to_pylist())["path"]
    for row, path in zip(lost, lost_paths.to_pylist()):
        error = errors.get(pairs[row], "not embedded (its process did not finish)")
        report.failures.append(Failure(keys[row], path, error, fingerprints[row]))

    if (previous is not None and not parts and [pairs[row] for row in kept] == stored_pairs
            and _same_plan(previous.manifest, len(kept), kind, exact_threshold)):
        report.manifest = previous.manifest
        report.indexed = report.reused = len(kept)
        report.up_to_date = True
        _remove_listings(index_dir)
        return report
    if not kept:
        shown = "; ".join(f.error for f in report.failures[:3])
        raise SearchError(f"none of the {len(keys)} images could be embedded (first errors: {shown})")

    build = new_build_dir(index_dir)
    vectors = np.lib.format.open_memmap(build / EMBEDDINGS, mode="w+", dtype=np.float32, shape=(len(kept), dimension))
    by_source: dict[int, tuple[list[int], list[int]]] = {}
    for target, row in enumerate(kept):
        source, source_row = found[pairs[row]]
        targets, rows = by_source.setdefault(source, ([], []))
        targets.append(target)
        rows.append(source_row)
    for source, (targets, rows) in sorted(by_source.items()):
        if source == 0:
            order = np.argsort(rows)  # sorted reads of the memory map
            vectors[np.asarray(targets)[order]] = previous.embeddings[np.asarray(rows)[order]]
            report.reused = len(rows)
        else:
            vectors[targets] = _part_vectors(pq.read_table(parts[source - 1], columns=["embedding"]), dimension)[rows]
            report.embedded += len(rows)
    vectors.flush()

    positions = listing["position"].take(pa.array(kept, pa.int64())).to_pylist()
    metadata = gallery.metadata(positions)
    metadata = pa.table({"key": pa.array([keys[row] for row in kept], pa.string()),
                         "fingerprint": pa.array([fingerprints[row] for row in kept], pa.string()),
                         **{name: metadata[name] for name in metadata.column_names}})
    faiss_index, plan = build_faiss_index(vectors, kind, exact_threshold)
    files = write_build_files(build, None, metadata, faiss_index, report.failures)
    manifest = IndexManifest(model=model_name, model_fingerprint=fingerprint, dimension=dimension, count=len(kept),
                             index=plan.to_dict(), gallery=gallery.describe(), build=build.name,
                             failures=len(report.failures), code_version=code_version or provenance_code_version(),
                             files=files)
    del vectors
    commit(index_dir, manifest)
    for path in parts:
        path.unlink(missing_ok=True)
    _remove_listings(index_dir)
    report.manifest = manifest
    report.indexed = len(kept)
    report.removed = (previous.manifest.count - report.reused) if previous is not None else 0
    return report


# -- the whole job ---------------------------------------------------------------------------------------------------


def build_index(model: torch.nn.Module, processor: Any, gallery: Gallery, index_dir: str | os.PathLike, *,
                model_name: str | None = None, batch_size: int = 64, kind: str = "auto",
                exact_threshold: int = EXACT_SEARCH_MAX_VECTORS, progress: bool = False, distributed: bool = True,
                after_part: Callable[[int], None] | None = None,
                code_version: dict[str, Any] | None = None, rebuild: bool = False) -> IndexingReport:
    """Index `gallery` into `index_dir`, resuming whatever an earlier run of this model left there.

    Under torchrun / accelerate launch (`distributed=True`), each process embeds its shard and the main process
    merges; the others return a report with `merged=False`. `after_part(n)` is called after the n-th part file of
    this process is on disk (progress hooks; tests raise there to simulate a crash). `rebuild=True` ignores the
    committed index (damaged, or of another model) and replaces it when the new one is committed.
    """
    index_dir = Path(index_dir)
    choose_kind(len(gallery), kind, exact_threshold)  # a bad kind fails before any work
    state = distributed_state() if distributed else None
    rank, world_size = (state.process_index, state.num_processes) if state is not None else (0, 1)
    fingerprint = model_fingerprint(model, processor)
    embedded = embed_shard(model, processor, gallery, index_dir, rank, world_size, fingerprint, batch_size,
                           model_name, progress, after_part, rebuild)
    if state is not None:
        state.wait_for_everyone()
    if rank != 0:
        return IndexingReport(index_dir, total=len(gallery), embedded=embedded)
    return merge(gallery, index_dir, world_size, fingerprint, embedding_dimension(model), model_name, kind,
                 exact_threshold, code_version, rebuild)


__all__ = ["IndexingReport", "build_index", "distributed_state", "embed_shard", "merge", "shard_of"]
