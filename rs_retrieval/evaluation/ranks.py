"""Input checks and the rank count: each query's row of scores, compared plainly with its ground truth.

A ground truth's rank (0 = first) is the number of candidates ahead of it: those with a strictly greater score,
and those with an equal score at a lower index (image row or caption column) -- the order of a stable descending
sort.  The count is exact: it is made by comparisons over the query's scores as computed, with no sorting and no
tolerance.  Queries are scored in chunks of rows, so memory stays O(chunk rows x candidates) whatever N x M.

Exact refers to the scores as computed.  Embedding scores are float32 dot products, and a matmul can round a
score differently in its last bit for another block shape (one row is a matrix-vector product); image rows and
caption rows are scored separately, so the score of one pair can differ in its last bit between the directions.
A candidate within a rounding error of the ground truth can therefore fall on either side of it from one chunking
to another.  With flushed denormals (`torch.set_flush_denormal(True)`), scores smaller than 2**-126 in magnitude
can compare as zero, as in every other computation on that thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray

#: Rank of an image that has no caption: it never counts as a hit.
NO_GROUND_TRUTH = torch.iinfo(torch.int64).max
# Default chunk: about this many scores (16 MiB of float32, and a float32 mask of the same shape); with 2**23 the
# fastest of 2**20 to 2**24 at 10k images x 50k captions (benchmarks/RESULTS.md).
_CHUNK_ELEMENTS = 1 << 22

#: Scores of query rows ``start..stop`` against every candidate, as a (stop - start, candidates) matrix.
_ChunkScores = Callable[[int, int], torch.Tensor]


def as_tensor(name: str, value: object) -> torch.Tensor:
    """A tensor, array or nested list as a tensor, detached from autograd."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array: {err}") from None
    if array.dtype == object:
        raise TypeError(f"{name} must be numeric, got an object array (ragged or mixed input?)")
    return torch.from_numpy(np.ascontiguousarray(array))


def check_matrix(name: str, matrix: torch.Tensor) -> None:
    """A 2-D, non-empty, finite, real-valued matrix."""
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features), got shape {tuple(matrix.shape)}")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(matrix.shape)})")
    if matrix.dtype == torch.bool or matrix.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {matrix.dtype}")
    # A finite sum proves every entry finite (NaN and inf propagate); the element-wise check
    # only runs when it does not, e.g. on real NaNs or on a sum that overflowed.
    if matrix.is_floating_point() and not bool(torch.isfinite(matrix.sum())):
        finite = torch.isfinite(matrix)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            kind = "NaN" if bool(torch.isnan(matrix).any()) else "infinite"
            raise ValueError(f"{name} contains {bad} non-finite value(s) (e.g. {kind})")


def check_index(text_image_index: torch.Tensor, n_images: int, n_texts: int) -> torch.Tensor:
    """A 1-D integer vector of length M with values in [0, N); returned as int64."""
    if text_image_index.ndim != 1:
        raise ValueError(
            f"text_image_index must be 1-D (one image row per caption), "
            f"got shape {tuple(text_image_index.shape)}"
        )
    if text_image_index.is_floating_point() or text_image_index.is_complex() or text_image_index.dtype == torch.bool:
        raise TypeError(f"text_image_index must hold integers, got dtype {text_image_index.dtype}")
    if text_image_index.shape[0] != n_texts:
        raise ValueError(
            f"text_image_index has {text_image_index.shape[0]} entries but there are "
            f"{n_texts} captions (text_embeds rows); they must be equal"
        )
    index = text_image_index.to(torch.int64)
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= n_images:
        bad = low if low < 0 else high
        raise ValueError(
            f"text_image_index value {bad} is out of range: there are {n_images} images, "
            f"so indices must lie in [0, {n_images - 1}]"
        )
    return index


def check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """Positive, distinct integers, in the order given."""
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks is empty: give at least one K, e.g. ks=(1, 5, 10)")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every K must be a positive integer, got {k!r} in ks={ks!r}")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks has duplicates: {ks!r}")
    return tuple(int(k) for k in ks)


def check_chunk_size(chunk_size: int | None) -> None:
    """None, or a positive integer."""
    if chunk_size is None:
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")


def _chunk_rows(chunk_size: int | None, n_columns: int) -> int:
    """Rows per chunk: the given size, or as many rows as fit the default score budget."""
    if chunk_size is not None:
        return int(chunk_size)
    return max(1, _CHUNK_ELEMENTS // n_columns)


def _ranks_in_rows(scores: torch.Tensor, target_column: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row of ``scores``, how many entries are ahead of the one at ``target_column``: greater, or equal at a
    lower column.  ``mask`` is float32 scratch of the same shape.

    Each comparison is written into ``mask`` as 0 or 1, and its row sums are exact: every partial sum is an integer
    below 2**24 (float64 sums for longer rows).  Equal entries are only located in the rows that hold more than
    one, which are rare for real embeddings.
    """
    target = scores.gather(1, target_column.unsqueeze(1))
    sum_dtype = torch.float32 if scores.shape[1] < 1 << 24 else torch.float64
    rank = torch.gt(scores, target, out=mask).sum(dim=1, dtype=sum_dtype).to(torch.int64)
    equal = torch.eq(scores, target, out=mask).sum(dim=1, dtype=sum_dtype)
    tied = torch.nonzero(equal > 1).squeeze(1)
    if tied.numel():
        lower = torch.arange(scores.shape[1], device=scores.device) < target_column[tied].unsqueeze(1)
        rank[tied] += ((scores[tied] == target[tied]) & lower).sum(dim=1)
    return rank


def _mask_buffer(rows: int, columns: int, device: torch.device) -> torch.Tensor:
    """Float32 scratch for one chunk's comparisons, reused by every chunk."""
    return torch.empty(rows * columns, dtype=torch.float32, device=device)


def _text_to_image_ranks(chunk_scores: _ChunkScores, text_image_index: torch.Tensor, chunk_size: int | None,
                         n_images: int) -> torch.Tensor:
    """Rank of each caption's own image among all images (M ranks); ``chunk_scores`` gives caption rows."""
    n_texts = text_image_index.shape[0]
    step = _chunk_rows(chunk_size, n_images)
    ranks = torch.empty(n_texts, dtype=torch.int64, device=text_image_index.device)
    buffer = _mask_buffer(min(step, n_texts), n_images, text_image_index.device)
    for start in range(0, n_texts, step):
        stop = min(start + step, n_texts)
        scores = chunk_scores(start, stop)
        mask = buffer[: scores.numel()].view(scores.shape)
        ranks[start:stop] = _ranks_in_rows(scores, text_image_index[start:stop], mask)
    return ranks


def _caption_groups(text_image_index: torch.Tensor, n_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Captions grouped by image: caption indices sorted by image (ascending within an image), and offsets
    (N + 1,) such that image i's captions are ``order[offsets[i]:offsets[i + 1]]``."""
    order = torch.sort(text_image_index, stable=True).indices
    offsets = torch.zeros(n_images + 1, dtype=torch.int64, device=text_image_index.device)
    offsets[1:] = torch.cumsum(torch.bincount(text_image_index, minlength=n_images), dim=0)
    return order, offsets


def _lowest(dtype: torch.dtype) -> float | int:
    """A value no score of this dtype is below."""
    return float("-inf") if dtype.is_floating_point else torch.iinfo(dtype).min


def _image_to_text_ranks(chunk_scores: _ChunkScores, text_image_index: torch.Tensor, chunk_size: int | None,
                         n_images: int) -> torch.Tensor:
    """Best rank among each image's own captions (N ranks; `NO_GROUND_TRUTH` if none); ``chunk_scores`` gives
    image rows.

    The best-ranked own caption is the one with the highest score, ties going to the lowest caption index, so
    only that caption's rank is counted.
    """
    n_texts = text_image_index.shape[0]
    device = text_image_index.device
    order, offsets = _caption_groups(text_image_index, n_images)
    counts = offsets[1:] - offsets[:-1]
    step = _chunk_rows(chunk_size, n_texts)
    ranks = torch.full((n_images,), NO_GROUND_TRUTH, dtype=torch.int64, device=device)
    buffer = _mask_buffer(min(step, n_images), n_texts, device)
    for start in range(0, n_images, step):
        stop = min(start + step, n_images)
        width = int(counts[start:stop].max())
        if width == 0:
            continue  # no image in this chunk has a caption: all misses
        scores = chunk_scores(start, stop)
        # Table of own captions, (rows, width), padded with -1; rows in ascending caption order.
        first, last = int(offsets[start]), int(offsets[stop])
        captions = order[first:last]
        owner = text_image_index[captions] - start
        slot = torch.arange(last - first, device=device) - (offsets[start:stop][owner] - first)
        table = torch.full((stop - start, width), -1, dtype=torch.int64, device=device)
        table[owner, slot] = captions
        own_scores = scores.gather(1, table.clamp(min=0)).masked_fill(table < 0, _lowest(scores.dtype))
        best = own_scores.argmax(dim=1, keepdim=True)  # the first maximum: the lowest caption index among ties
        # Rows without a caption count against column 0; their rank is replaced below.
        mask = buffer[: scores.numel()].view(scores.shape)
        chunk_ranks = _ranks_in_rows(scores, table.gather(1, best).squeeze(1).clamp(min=0), mask)
        has_caption = counts[start:stop] > 0
        ranks[start:stop] = torch.where(has_caption, chunk_ranks, NO_GROUND_TRUTH)
    return ranks


def _products(queries: torch.Tensor, candidates: torch.Tensor, chunk_size: int | None) -> _ChunkScores:
    """Chunks of ``queries @ candidates.T``, each written over the previous one (one buffer, no allocation per
    chunk)."""
    rows = min(_chunk_rows(chunk_size, candidates.shape[0]), queries.shape[0])
    buffer = torch.empty(rows * candidates.shape[0], dtype=queries.dtype, device=queries.device)

    def chunk(start: int, stop: int) -> torch.Tensor:
        out = buffer[: (stop - start) * candidates.shape[0]].view(stop - start, candidates.shape[0])
        return torch.matmul(queries[start:stop], candidates.T, out=out)

    return chunk


def embedding_ranks(images: torch.Tensor, texts: torch.Tensor, text_image_index: torch.Tensor,
                    chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(i2t ranks (N,), t2i ranks (M,))`` of dot-product scores, each direction from its own query rows:
    ``images @ texts.T`` for images, ``texts @ images.T`` for captions."""
    n_images = images.shape[0]
    i2t = _image_to_text_ranks(_products(images, texts, chunk_size), text_image_index, chunk_size, n_images)
    t2i = _text_to_image_ranks(_products(texts, images, chunk_size), text_image_index, chunk_size, n_images)
    return i2t, t2i


def similarity_ranks(similarity: torch.Tensor, text_image_index: torch.Tensor,
                     chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(i2t ranks (N,), t2i ranks (M,))`` of a given (N images x M captions) score matrix, compared in its own
    dtype; the matrix is not modified."""
    n_images = similarity.shape[0]
    i2t = _image_to_text_ranks(lambda a, b: similarity[a:b], text_image_index, chunk_size, n_images)
    t2i = _text_to_image_ranks(lambda a, b: similarity[:, a:b].T, text_image_index, chunk_size, n_images)
    return i2t, t2i


__all__ = [
    "NO_GROUND_TRUTH",
    "ArrayLike",
    "as_tensor",
    "check_chunk_size",
    "check_index",
    "check_ks",
    "check_matrix",
    "embedding_ranks",
    "similarity_ranks",
]
