"""Choose, build and tune the FAISS index over L2-normalised embeddings (inner product = cosine similarity).

* Up to `EXACT_SEARCH_MAX_VECTORS` vectors: an exact `IndexFlatIP`. One query then scans at most 100k x D floats,
  about 10 ms on one CPU core at D = 512 (7-13 ms measured, benchmarks/search/RESULTS.md), so approximation would
  buy little and cost recall.
* Above: an `IndexIVFFlat` (inverted lists, vectors stored uncompressed) with nlist ≈ 4·√N cells, k-means trained
  on at most `TRAINING_POINTS_PER_CELL`·nlist sampled vectors. `nprobe`, the cells scanned per query, is the
  smallest that reaches `target_recall` + `TUNING_MARGIN` recall@10 against exact search on a sample of stored
  vectors used as queries, each with itself left out of both result lists (leave-one-out), so the figure speaks
  for queries from the gallery's distribution rather than for finding a vector's own copy.
* When `auto` finds that IVF needs more than half of its cells scanned to get there (vectors without cluster
  structure, e.g. uniformly random ones), it falls back to the exact index, which is then no slower and exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

EXACT_SEARCH_MAX_VECTORS = 100_000
TARGET_RECALL = 0.95
#: Tuning aims this much above the target, so that queries other than the tuning sample still reach it.
TUNING_MARGIN = 0.02
TUNING_QUERIES = 500
TUNING_K = 10
#: k-means wants ≥ 39 points per centroid (FAISS warns below); more only slows training down.
TRAINING_POINTS_PER_CELL = 40
KMEANS_ITERATIONS = 20
ADD_CHUNK = 65_536

FLAT = "flat_ip"
IVF = "ivf_flat"
KINDS = ("auto", FLAT, IVF)


@dataclass(frozen=True)
class IndexPlan:
    """The index chosen for a gallery: its kind, IVF parameters and the recall measured when tuning them."""

    kind: str
    count: int
    nlist: int | None = None
    nprobe: int | None = None
    tuned_recall_at_10: float | None = None
    exact_threshold: int = EXACT_SEARCH_MAX_VECTORS
    note: str | None = None

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


def choose_kind(count: int, kind: str = "auto", exact_threshold: int = EXACT_SEARCH_MAX_VECTORS) -> str:
    """`flat_ip` up to `exact_threshold` vectors, `ivf_flat` above; an explicit kind is kept (IVF needs ≥ 2 vectors)."""
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {KINDS}, got {kind!r}")
    if kind == "auto":
        kind = FLAT if count <= exact_threshold else IVF
    if kind == IVF and count < 2:
        return FLAT
    return kind


def ivf_nlist(count: int) -> int:
    """About 4·√N cells, but never so many that k-means gets fewer than `TRAINING_POINTS_PER_CELL` points per cell."""
    return max(1, min(round(4 * math.sqrt(count)), count // TRAINING_POINTS_PER_CELL))


def exact_top_k(embeddings: np.ndarray, queries: np.ndarray, k: int, chunk: int = ADD_CHUNK) -> np.ndarray:
    """Row ids of the `k` highest inner products of each query (Q x k, best first), scanning `embeddings` in chunks."""
    k = min(k, len(embeddings))
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(embeddings), chunk):
        scores = queries @ np.asarray(embeddings[start:start + chunk], dtype=np.float32).T
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_ids = np.concatenate([best_ids, ids], axis=1)
        if best_scores.shape[1] > k:
            keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, keep, axis=1)
            best_ids = np.take_along_axis(best_ids, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_ids, order, axis=1)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (rows of ids; -1 in `found` means nothing found)."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / max(1, truth.size)


def _leave_one_out(ids: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    """Drop each query's own id from its result row and keep `k` ids (dropping the last when it is not there)."""
    rows = []
    for row, own in zip(ids, query_ids):
        kept = row[row != own]
        rows.append(kept[:k])
    return np.stack(rows)


def tune_nprobe(index, embeddings: np.ndarray, target: float, queries: int = TUNING_QUERIES, k: int = TUNING_K,
                seed: int = 0) -> tuple[int, float]:
    """The smallest nprobe whose leave-one-out recall@k on sampled stored vectors reaches `target`, and that recall.

    Recall can only grow with nprobe (more cells scanned, a superset of candidates), so doubling then bisecting
    finds the smallest passing value in O(log nlist) trial searches; bisection stops within 1/16 of it, because
    the trials near nlist cost nearly as much as exact search.
    """
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(embeddings), size=min(queries, len(embeddings)), replace=False))
    vectors = np.asarray(embeddings[sample], dtype=np.float32)
    truth = _leave_one_out(exact_top_k(embeddings, vectors, k + 1), sample, k)

    def recall(nprobe: int) -> float:
        index.nprobe = nprobe
        _, ids = index.search(vectors, k + 1)
        return recall_at_k(_leave_one_out(ids, sample, k), truth)

    return _smallest_passing(recall, index.nlist, target)


def _smallest_passing(measure: Callable[[int], float], upper: int, target: float) -> tuple[int, float]:
    measured: dict[int, float] = {}

    def passes(value: int) -> bool:
        if value not in measured:
            measured[value] = measure(value)
        return measured[value] >= target

    high = 1
    while high < upper and not passes(high):
        high = min(2 * high, upper)
    if not passes(high):  # only when even scanning every cell misses (ties): keep the exhaustive setting
        return upper, measured[upper]
    low = high // 2  # fails (or is 0)
    while high - low > max(1, high // 16):
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle
    return high, measured[high]


def build_faiss_index(embeddings: np.ndarray, kind: str = "auto", exact_threshold: int = EXACT_SEARCH_MAX_VECTORS,
                      target_recall: float = TARGET_RECALL, seed: int = 0):
    """The index for these N x D float32 rows (a memory map is fine: it is read in chunks) and its `IndexPlan`."""
    import faiss

    count, dimension = embeddings.shape
    chosen = choose_kind(count, kind, exact_threshold)
    if chosen == FLAT:
        return _flat(embeddings), IndexPlan(FLAT, count, exact_threshold=exact_threshold)

    nlist = ivf_nlist(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = KMEANS_ITERATIONS
    index.cp.seed = seed
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(count, size=min(count, TRAINING_POINTS_PER_CELL * nlist), replace=False))
    index.train(np.ascontiguousarray(embeddings[sample], dtype=np.float32))
    _add_in_chunks(index, embeddings)
    nprobe, recall = tune_nprobe(index, embeddings, min(1.0, target_recall + TUNING_MARGIN), seed=seed)
    if kind == "auto" and not ivf_pays_off(nprobe, nlist):
        note = f"IVF needed nprobe {nprobe} of nlist {nlist} for recall@10 {recall:.3f}: exact search instead"
        return _flat(embeddings), IndexPlan(FLAT, count, exact_threshold=exact_threshold, note=note)
    index.nprobe = nprobe
    return index, IndexPlan(IVF, count, nlist=nlist, nprobe=nprobe, tuned_recall_at_10=round(recall, 4),
                            exact_threshold=exact_threshold)


def ivf_pays_off(nprobe: int, nlist: int) -> bool:
    """Scanning more than half the cells costs about as much as exact search, so `auto` then prefers exact."""
    return nprobe <= nlist // 2


def _flat(embeddings: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(embeddings.shape[1])
    _add_in_chunks(index, embeddings)
    return index


def _add_in_chunks(index, embeddings: np.ndarray) -> None:
    for start in range(0, len(embeddings), ADD_CHUNK):
        index.add(np.ascontiguousarray(embeddings[start:start + ADD_CHUNK], dtype=np.float32))


__all__ = [
    "EXACT_SEARCH_MAX_VECTORS",
    "FLAT",
    "IVF",
    "IndexPlan",
    "TARGET_RECALL",
    "build_faiss_index",
    "choose_kind",
    "exact_top_k",
    "ivf_nlist",
    "ivf_pays_off",
    "recall_at_k",
    "tune_nprobe",
]
