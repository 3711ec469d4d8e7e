"""Standard image-text retrieval evaluation: Recall@K in both directions, and their mean (mR).

Conventions (the usual ones of the CLIP / RSICD / RSITMD literature):

* Every caption belongs to exactly one image, ``text_image_index[j]`` is the row of caption
  ``j``'s image; an image usually has 5 captions.
* **text -> image** R@K: the percentage of captions whose own image is among the K images
  most similar to the caption.
* **image -> text** R@K: the percentage of images with at least one of their own captions
  among the K captions most similar to the image.
* ``mr`` is the mean of all reported recalls (the six of the default ``ks=(1, 5, 10)``).

The ranking is exact and deterministic: the rank of a ground truth is
``#(scores strictly greater) + #(scores equal with a lower index)``, i.e. among equal scores
the lower index ranks first -- the same order as a stable descending sort.  Nothing is ever
sorted.  The similarity matrix S = images @ texts.T is computed once, in small tiles that stay
in the CPU cache, and each tile serves both directions while it is hot: its rows are compared
with each image's best own-caption score (image -> text), its columns with each caption's own
score (text -> image).  Those targets come from a small pre-pass; every tile checks that the
target scores it contains are bit-for-bit the ones the pre-pass used.  If a matmul kernel ever
rounds differently (it can for very thin blocks), the pre-pass is redone on the tiles' own rows,
and failing that the ranks are recounted by the two-pass method, which takes each direction's
targets from its own rows.  Peak memory is one tile and its mask plus O(N + M), whatever N x M.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = torch.Tensor | np.ndarray

# Default chunk of the two-pass method: about this many similarity scores per chunk (~64 MiB of
# float32 scores, plus a few boolean masks of the same shape).
_CHUNK_ELEMENTS = 1 << 24
# Default tile of the single-pass method: 512 images x 512 captions (1 MiB of scores, and 1 MiB of mask),
# small enough for the comparisons to run from the cores' caches, large enough for the matmul to run at
# full speed (the fastest tile for the bare matmul too, benchmarks/bench_evaluation.py).
_TILE_ROWS = 512
_TILE_COLUMNS = 512
# Rows per block of the pre-pass that finds the ground-truth scores.
_PREPASS_ROWS = 32
# Sentinel rank for images that have no caption at all: they never count as a hit.
_NO_GROUND_TRUTH = torch.iinfo(torch.int64).max


def _as_tensor(name: str, value: object) -> torch.Tensor:
    """Turn a tensor, array or nested list into a tensor, detached from autograd."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array: {err}") from None
    if array.dtype == object:
        raise TypeError(f"{name} must be numeric, got an object array (ragged or mixed input?)")
    return torch.from_numpy(np.ascontiguousarray(array))


def _check_matrix(name: str, matrix: torch.Tensor) -> None:
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


def _check_index(text_image_index: torch.Tensor, n_images: int, n_texts: int) -> torch.Tensor:
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


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
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


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is None:
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")


def _chunk_rows(chunk_size: int | None, n_columns: int) -> int:
    """Rows per chunk: the given size, or as many rows as fit the default score budget."""
    if chunk_size is not None:
        return int(chunk_size)
    return max(1, _CHUNK_ELEMENTS // n_columns)


def _row_sums(values: torch.Tensor) -> torch.Tensor:
    """Exact int64 row sums of a matrix of small integers (here -1, 0, 1).

    A matrix-vector product is much faster than a reduction over booleans; float32 sums of
    such values are exact below 2**24 terms, so longer rows are summed in blocks.
    """
    block = values.shape[1] if values.dtype == torch.float64 else 1 << 24
    total = torch.zeros(values.shape[0], dtype=torch.int64, device=values.device)
    for start in range(0, values.shape[1], block):
        part = values[:, start : start + block]
        ones = torch.ones(part.shape[1], dtype=values.dtype, device=values.device)
        total += (part @ ones).round().to(torch.int64)
    return total


def _rank_counts(scores: torch.Tensor, target: torch.Tensor, target_column: torch.Tensor) -> torch.Tensor:
    """Rank of ``target_column`` in each row of ``scores`` (0 = first); overwrites ``scores``.

    ``target[r]`` is the score at ``scores[r, target_column[r]]``.  Rank = #(strictly greater)
    + #(equal with a lower column index).  ``sign(score - target)`` is exactly +1, 0 or -1 as
    the score is greater, equal or smaller (IEEE subtraction is zero only for equal operands),
    and two row sums of it give both counts.  The lower-index count is only taken for rows
    with a tie, which is rare for real embeddings.
    """
    n_columns = scores.shape[1]
    signs = scores.sub_(target.unsqueeze(1)).sign_()
    balance = _row_sums(signs)  # greater - smaller
    unequal = _row_sums(signs.abs_())  # greater + smaller
    rank = (balance + unequal) // 2
    n_equal = n_columns - unequal  # counts the target itself
    tied = torch.nonzero(n_equal > 1).squeeze(1)
    if tied.numel():
        columns = torch.arange(n_columns, device=scores.device)
        lower = columns.unsqueeze(0) < target_column[tied].unsqueeze(1)
        rank[tied] += ((signs[tied] == 0) & lower).sum(dim=1)
    return rank


def _text_to_image_ranks(
    chunk_scores: Callable[[int, int], torch.Tensor],
    text_image_index: torch.Tensor,
    n_images: int,
    chunk_size: int | None,
) -> torch.Tensor:
    """Rank of each caption's own image among all images (M ranks)."""
    n_texts = text_image_index.shape[0]
    step = _chunk_rows(chunk_size, n_images)
    ranks = torch.empty(n_texts, dtype=torch.int64, device=text_image_index.device)
    for start in range(0, n_texts, step):
        stop = min(start + step, n_texts)
        scores = chunk_scores(start, stop)  # (rows, N): captions start..stop vs all images
        own = text_image_index[start:stop]
        target = scores.gather(1, own.unsqueeze(1)).squeeze(1)
        ranks[start:stop] = _rank_counts(scores, target, own)
        del scores  # free it before the next chunk is allocated
    return ranks


def _caption_groups(text_image_index: torch.Tensor, n_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Captions grouped by image: (caption indices sorted by image, ascending within an image; offsets (N + 1,)
    such that image i's captions are ``order[offsets[i]:offsets[i + 1]]``)."""
    order = torch.sort(text_image_index, stable=True).indices
    offsets = torch.zeros(n_images + 1, dtype=torch.int64, device=text_image_index.device)
    offsets[1:] = torch.cumsum(torch.bincount(text_image_index, minlength=n_images), dim=0)
    return order, offsets


def _image_to_text_ranks(
    chunk_scores: Callable[[int, int], torch.Tensor],
    text_image_index: torch.Tensor,
    n_images: int,
    chunk_size: int | None,
) -> torch.Tensor:
    """Best rank among each image's own captions (N ranks; ``_NO_GROUND_TRUTH`` if none).

    The best-ranked own caption is the one with the highest score, ties going to the lowest
    caption index, so only that caption's rank needs counting.
    """
    n_texts = text_image_index.shape[0]
    device = text_image_index.device
    order, offsets = _caption_groups(text_image_index, n_images)
    counts = offsets[1:] - offsets[:-1]

    step = _chunk_rows(chunk_size, n_texts)
    ranks = torch.full((n_images,), _NO_GROUND_TRUTH, dtype=torch.int64, device=device)
    for start in range(0, n_images, step):
        stop = min(start + step, n_images)
        rows = stop - start
        chunk_counts = counts[start:stop]
        width = int(chunk_counts.max())
        if width == 0:
            continue  # no image in this chunk has a caption: all misses
        scores = chunk_scores(start, stop)  # (rows, M): images start..stop vs all captions
        # Table of own captions, (rows, width), padded with -1; rows in ascending caption order.
        first, last = int(offsets[start]), int(offsets[stop])
        captions = order[first:last]
        owner = text_image_index[captions] - start
        slot = torch.arange(last - first, device=device) - (offsets[start:stop][owner] - first)
        table = torch.full((rows, width), -1, dtype=torch.int64, device=device)
        table[owner, slot] = captions
        own_scores = scores.gather(1, table.clamp(min=0))
        own_scores = own_scores.masked_fill(table < 0, float("-inf"))
        best = own_scores.argmax(dim=1)  # first maximum = lowest caption index among ties
        target = own_scores.gather(1, best.unsqueeze(1)).squeeze(1)
        target_column = table.gather(1, best.unsqueeze(1)).squeeze(1)
        has_caption = chunk_counts > 0
        chunk_ranks = _rank_counts(scores, target, target_column)
        ranks[start:stop] = torch.where(has_caption, chunk_ranks, torch.full_like(chunk_ranks, _NO_GROUND_TRUTH))
        del scores
    return ranks


def _even_blocks(total: int, size: int) -> list[tuple[int, int]]:
    """`total` split into blocks of at most `size`, as equal as possible: no thin last block, whose matmul
    kernels might round differently from the others'."""
    count = -(-total // size)
    edges = [total * block // count for block in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _own_scores(images: torch.Tensor, texts: torch.Tensor, text_image_index: torch.Tensor,
                groups: tuple[torch.Tensor, torch.Tensor], row_blocks: list[tuple[int, int]]) -> torch.Tensor:
    """``S[index[j], j]`` for every caption j, by small matmuls of each block of images with their own
    captions.  Matrix kernels round a score the same way whatever the block's size, except when very thin
    (a single row is a matrix-vector product); the tiles check it bit for bit."""
    order, offsets = groups
    n_texts = texts.shape[0]
    positions = torch.arange(n_texts, device=images.device)
    grouped_in_place = torch.equal(order, positions)  # captions already sorted by image: blocks are slices
    bounds = offsets.tolist()
    own = torch.empty(n_texts, dtype=images.dtype, device=images.device)
    for start, stop in row_blocks:
        first, last = bounds[start], bounds[stop]
        if first == last:
            continue
        captions = order[first:last]
        block_texts = texts[first:last] if grouped_in_place else texts[captions]
        block = images[start:stop] @ block_texts.T
        own[captions] = block[text_image_index[captions] - start, positions[: last - first]]
    return own


def _best_own_caption(own: torch.Tensor, text_image_index: torch.Tensor, n_images: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the highest own-caption score and its caption (lowest index among equals); images without a
    caption get (+inf, M) so that nothing counts against them (their rank is set to the sentinel later)."""
    n_texts = own.shape[0]
    best = torch.full((n_images,), float("-inf"), dtype=own.dtype, device=own.device)
    best.scatter_reduce_(0, text_image_index, own, reduce="amax")
    candidates = torch.where(own == best[text_image_index], torch.arange(n_texts, device=own.device), n_texts)
    column = torch.full((n_images,), n_texts, dtype=torch.int64, device=own.device)
    column.scatter_reduce_(0, text_image_index, candidates, reduce="amin")
    best = torch.where(column < n_texts, best, torch.full_like(best, float("inf")))
    return best, column


def _block_of(positions: torch.Tensor, blocks: list[tuple[int, int]]) -> torch.Tensor:
    """Index of the block holding each position; positions past the last block get ``len(blocks)``."""
    starts = torch.tensor([start for start, _ in blocks[1:]] + [blocks[-1][1]], device=positions.device)
    return torch.bucketize(positions, starts, right=True)


def _lines_by_tile(row_block: torch.Tensor, column_block: torch.Tensor, n_column_blocks: int
                   ) -> dict[tuple[int, int], torch.Tensor]:
    """The lines (indices into the given vectors) grouped by the tile (row block, column block) they point to."""
    key = row_block * (n_column_blocks + 1) + column_block
    order = torch.sort(key, stable=True).indices
    keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    groups = torch.split(order, counts.tolist())
    return {divmod(int(k), n_column_blocks + 1): group for k, group in zip(keys.tolist(), groups)}


def _ties_before(tile: torch.Tensor, targets: torch.Tensor, positions: torch.Tensor, lines: torch.Tensor,
                 dim: int, mask: torch.Tensor) -> torch.Tensor:
    """For the given lines of a tile (rows when ``dim == 1``, columns when ``dim == 0``): how many entries equal
    the line's target at a position below ``positions``.  ``targets`` holds the target of every line of the
    tile; ``lines`` and ``positions`` are tile-local indices.

    Each line holds its target once, so a line with no other equal entry -- nearly all of them for real
    embeddings -- needs nothing more.  Many lines are compared in place over the whole tile, a few are gathered.
    """
    def gathered(some: torch.Tensor) -> torch.Tensor:  # the given lines as rows
        return tile[some] if dim == 1 else tile[:, some].T

    if 8 * lines.numel() >= tile.shape[1 - dim]:
        equal = torch.eq(tile, targets.unsqueeze(dim), out=mask).sum(dim=dim)[lines]
    else:
        equal = (gathered(lines) == targets[lines].unsqueeze(1)).sum(dim=1)
    tied = torch.nonzero(equal > 1).squeeze(1)
    ties = torch.zeros(lines.numel(), dtype=mask.dtype, device=tile.device)
    if tied.numel():
        picked = gathered(lines[tied])
        lower = torch.arange(picked.shape[1], device=tile.device).unsqueeze(0) < positions[tied].unsqueeze(1)
        ties[tied] = ((picked == targets[lines[tied]].unsqueeze(1)) & lower).sum(dim=1).to(ties.dtype)
    return ties


def _single_pass_ranks(images: torch.Tensor, texts: torch.Tensor, text_image_index: torch.Tensor,
                       rows: int, columns: int, prepass_rows: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Both directions' ranks from one tiled pass over S; None when a tile's scores disagree with the pre-pass.

    A score beats a target when it is greater, or equal at a lower position.  In a block of positions wholly
    after the target's that is ``score > target``; wholly before it, ``score >= target``, which for floats is
    ``score > nextafter(target, -inf)``.  So every line has one strict threshold per block; in the one tile that
    holds a line's own target the threshold is the target, plus the equal scores before it (`_ties_before`).
    """
    n_images, n_texts = images.shape[0], texts.shape[0]
    device = images.device
    row_blocks, column_blocks = _even_blocks(n_images, rows), _even_blocks(n_texts, columns)
    own = _own_scores(images, texts, text_image_index, _caption_groups(text_image_index, n_images),
                      _even_blocks(n_images, prepass_rows))
    best, best_column = _best_own_caption(own, text_image_index, n_images)
    own_below = torch.nextafter(own, torch.full_like(own, float("-inf")))
    best_below = torch.nextafter(best, torch.full_like(best, float("-inf")))
    if not (bool((own_below < own).all()) and bool((best_below < best).all())):
        return None  # denormals flushed to zero: the threshold below a zero target would equal it
    # Block of each line's own target, and the lines each tile counts exactly (the tile holding their target).
    owner_block = _block_of(text_image_index, row_blocks)
    best_block = _block_of(best_column, column_blocks)  # len(column_blocks) for images without a caption
    own_block = _block_of(torch.arange(n_texts, device=device), column_blocks)
    exact_captions = _lines_by_tile(owner_block, own_block, len(column_blocks))
    exact_images = _lines_by_tile(_block_of(torch.arange(n_images, device=device), row_blocks), best_block,
                                  len(column_blocks))
    # Counts accumulate as float64 (exact far beyond any N or M); one tile line adds at most 2**24.
    i2t = torch.zeros(n_images, dtype=torch.float64, device=device)
    t2i = torch.zeros(n_texts, dtype=torch.float64, device=device)
    # One score buffer and one 0/1 float32 mask buffer for every tile: nothing is allocated per tile.  Sums of a
    # float32 mask are exact and need no conversion copy, which a boolean mask's integer sum makes of the tile.
    largest = max(stop - start for start, stop in row_blocks) * max(last - first for first, last in column_blocks)
    score_buffer = torch.empty(largest, dtype=images.dtype, device=device)
    mask_buffer = torch.empty(largest, dtype=torch.float32, device=device)
    column_indices = torch.arange(len(column_blocks), device=device).unsqueeze(1)
    for row, (start, stop) in enumerate(row_blocks):
        row_images = images[start:stop]
        # This row block's thresholds for every tile: (column blocks, rows) for its images, (M,) for the captions.
        row_thresholds = torch.where(best_block[start:stop] > column_indices, best_below[start:stop], best[start:stop])
        column_thresholds = torch.where(owner_block > row, own_below, own)
        for column, (first, last) in enumerate(column_blocks):
            shape = (stop - start, last - first)
            tile = torch.matmul(row_images, texts[first:last].T, out=score_buffer[: shape[0] * shape[1]].view(shape))
            mask = mask_buffer[: shape[0] * shape[1]].view(shape)
            captions = exact_captions.get((row, column))
            # The targets inside this tile must be the very scores the pre-pass gave (bit for bit).
            if captions is not None and not torch.equal(tile[text_image_index[captions] - start, captions - first],
                                                        own[captions]):
                return None
            # image -> text: each row against its image's best own-caption score (positions: caption columns).
            counts = torch.gt(tile, row_thresholds[column].unsqueeze(1), out=mask).sum(dim=1)
            lines = exact_images.get((row, column))
            if lines is not None:  # their threshold here is the target itself: add the equal scores before it
                counts[lines - start] += _ties_before(tile, best[start:stop], best_column[lines] - first,
                                                      lines - start, 1, mask)
            i2t[start:stop] += counts
            # text -> image: each column against its caption's own score (positions: image rows).
            counts = torch.gt(tile, column_thresholds[first:last].unsqueeze(0), out=mask).sum(dim=0)
            if captions is not None:
                counts[captions - first] += _ties_before(tile, own[first:last], text_image_index[captions] - start,
                                                         captions - first, 0, mask)
            t2i[first:last] += counts
    has_caption = best_column < n_texts
    i2t = torch.where(has_caption, i2t.to(torch.int64), torch.full((n_images,), _NO_GROUND_TRUTH, device=device))
    return i2t, t2i.to(torch.int64)


def _recalls(i2t_ranks: torch.Tensor, t2i_ranks: torch.Tensor, ks: tuple[int, ...]) -> dict[str, float]:
    """Percentages of ranks below each K, plus their mean."""
    result: dict[str, float] = {}
    for prefix, ranks in (("i2t", i2t_ranks), ("t2i", t2i_ranks)):
        for k in ks:
            hits = int((ranks < k).sum())
            result[f"{prefix}_r{k}"] = 100.0 * hits / ranks.numel()
    result["mr"] = sum(result.values()) / len(result)
    return result


def retrieval_ranks(
    image_embeds: ArrayLike,
    text_embeds: ArrayLike,
    text_image_index: ArrayLike,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """0-based ranks of the ground truths: ``(i2t_ranks (N,), t2i_ranks (M,))``.

    Same conventions as `retrieval_recall`; an image with no caption gets rank
    ``torch.iinfo(torch.int64).max``.  Useful for median rank or per-sample analysis.
    """
    _check_chunk_size(chunk_size)
    images = _as_tensor("image_embeds", image_embeds)
    texts = _as_tensor("text_embeds", text_embeds)
    index = _as_tensor("text_image_index", text_image_index)
    _check_matrix("image_embeds", images)
    _check_matrix("text_embeds", texts)
    if images.shape[1] != texts.shape[1]:
        raise ValueError(
            f"embedding sizes differ: image_embeds has {images.shape[1]} features, "
            f"text_embeds has {texts.shape[1]}"
        )
    index = _check_index(index, images.shape[0], texts.shape[0])

    target_device = torch.device(device) if device is not None else images.device
    with torch.inference_mode():
        images = F.normalize(images.to(target_device, torch.float32), dim=1)
        texts = F.normalize(texts.to(target_device, torch.float32), dim=1)
        index = index.to(target_device)
        n_images = images.shape[0]
        rows = chunk_size or _TILE_ROWS
        # The pre-pass runs in short row blocks (a fraction of the tiles' work); should its kernels round
        # differently from the tiles', it is redone with the tiles' own rows.
        for prepass_rows in dict.fromkeys((min(rows, _PREPASS_ROWS), rows)):
            ranks = _single_pass_ranks(images, texts, index, rows, _TILE_COLUMNS, prepass_rows)
            if ranks is not None:
                return ranks
        # A matmul kernel rounded a tile differently from the pre-pass: count each direction from its own rows.
        i2t = _image_to_text_ranks(lambda a, b: images[a:b] @ texts.T, index, n_images, chunk_size)
        t2i = _text_to_image_ranks(lambda a, b: texts[a:b] @ images.T, index, n_images, chunk_size)
    return i2t, t2i


def retrieval_recall(
    image_embeds: ArrayLike,
    text_embeds: ArrayLike,
    text_image_index: ArrayLike,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Image->text and text->image Recall@K (percent) and their mean ``mr``.

    Args:
        image_embeds: (N, D) image embeddings (torch tensor or numpy array).
        text_embeds: (M, D) caption embeddings, usually M = 5N.
        text_image_index: (M,) integers; ``text_image_index[j]`` is the row of caption j's image.
        ks: the cut-offs K; keys are ``i2t_r{K}``, ``t2i_r{K}`` (in this order) and ``mr``.
        chunk_size: query rows scored at once; None picks ~16M scores per chunk.  Peak memory
            is O(chunk_size x max(N, M)); the result does not depend on it.
        device: where to compute; default: the device of ``image_embeds``.

    Both embedding sets are L2-normalised here (in float32), so the score is the cosine
    similarity whatever the inputs' scale.  Ties are broken deterministically: among equal
    scores the lower index (image row or caption row) ranks first.  An image with no caption
    counts as a miss in every image->text recall.

    Returns:
        Python floats in [0, 100], e.g. ``{"i2t_r1": .., .., "t2i_r10": .., "mr": ..}``.
    """
    ks = _check_ks(ks)
    i2t, t2i = retrieval_ranks(image_embeds, text_embeds, text_image_index, chunk_size=chunk_size, device=device)
    return _recalls(i2t, t2i, ks)


def recall_from_similarity(
    similarity: ArrayLike,
    text_image_index: ArrayLike,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int | None = None,
) -> dict[str, float]:
    """`retrieval_recall` from a precomputed (N images x M captions) score matrix.

    For scores that are not cosine similarities (e.g. a re-ranker's).  Scores are used as
    given (float64 stays float64, integers are compared as float64, other floats as float32);
    the matrix is not modified.  Same ties, keys and conventions.
    """
    ks = _check_ks(ks)
    _check_chunk_size(chunk_size)
    scores = _as_tensor("similarity", similarity)
    _check_matrix("similarity", scores)
    index = _as_tensor("text_image_index", text_image_index).to(scores.device)
    n_images, n_texts = scores.shape
    index = _check_index(index, n_images, n_texts)
    # Chunks are fresh copies (ranking overwrites them); half precisions widen exactly.
    dtype = torch.float64 if scores.dtype == torch.float64 or not scores.is_floating_point() else torch.float32
    layout = torch.contiguous_format
    with torch.inference_mode():
        i2t = _image_to_text_ranks(
            lambda a, b: scores[a:b].to(dtype, memory_format=layout, copy=True), index, n_images, chunk_size
        )
        t2i = _text_to_image_ranks(
            lambda a, b: scores[:, a:b].T.to(dtype, memory_format=layout, copy=True), index, n_images, chunk_size
        )
    return _recalls(i2t, t2i, ks)


RECALL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("i2t_r1", "i2t R@1"), ("i2t_r5", "i2t R@5"), ("i2t_r10", "i2t R@10"),
    ("t2i_r1", "t2i R@1"), ("t2i_r5", "t2i R@5"), ("t2i_r10", "t2i R@10"), ("mr", "mR"),
)


def markdown_table(rows: Sequence[tuple[str, dict[str, float]]], first_column: str = "queries") -> str:
    """A markdown recall table in the method's shape, one row per (label, metrics)."""
    header = f"| {first_column} | " + " | ".join(title for _, title in RECALL_COLUMNS) + " |"
    rule = "|---|" + "|".join("---:" for _ in RECALL_COLUMNS) + "|"
    lines = [header, rule]
    for label, metrics in rows:
        lines.append(f"| {label} | " + " | ".join(f"{metrics[key]:.2f}" for key, _ in RECALL_COLUMNS) + " |")
    return "\n".join(lines)


__all__ = ["RECALL_COLUMNS", "markdown_table", "recall_from_similarity", "retrieval_ranks", "retrieval_recall"]
