"""Standard image-text retrieval evaluation: Recall@K in both directions, and their mean (mR).

Conventions (the usual ones of the CLIP / RSICD / RSITMD literature):

* Every caption belongs to exactly one image, ``text_image_index[j]`` is the row of caption ``j``'s image; an
  image usually has 5 captions.
* **text -> image** R@K: the percentage of captions whose own image is among the K images most similar to the
  caption.
* **image -> text** R@K: the percentage of images with at least one of their own captions among the K captions
  most similar to the image.
* ``mr`` is the mean of all reported recalls (the six of the default ``ks=(1, 5, 10)``).

Ranks are counted exactly over the scores as computed, with ties going to the lower index (`ranks` says what
exact covers), in chunks of query rows: memory is O(chunk x max(N, M)), never O(N x M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .ranks import (
    ArrayLike,
    as_tensor,
    check_chunk_size,
    check_index,
    check_ks,
    check_matrix,
    embedding_ranks,
    similarity_ranks,
)

#: The default recall keys and their column titles, in table order.
RECALL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("i2t_r1", "i2t R@1"), ("i2t_r5", "i2t R@5"), ("i2t_r10", "i2t R@10"),
    ("t2i_r1", "t2i R@1"), ("t2i_r5", "t2i R@5"), ("t2i_r10", "t2i R@10"), ("mr", "mR"),
)


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

    Same conventions as `retrieval_recall`; an image with no caption gets rank ``torch.iinfo(torch.int64).max``.
    Useful for median rank or per-sample analysis.
    """
    check_chunk_size(chunk_size)
    images = as_tensor("image_embeds", image_embeds)
    texts = as_tensor("text_embeds", text_embeds)
    index = as_tensor("text_image_index", text_image_index)
    check_matrix("image_embeds", images)
    check_matrix("text_embeds", texts)
    if images.shape[1] != texts.shape[1]:
        raise ValueError(
            f"embedding sizes differ: image_embeds has {images.shape[1]} features, "
            f"text_embeds has {texts.shape[1]}"
        )
    index = check_index(index, images.shape[0], texts.shape[0])

    target_device = torch.device(device) if device is not None else images.device
    with torch.inference_mode():
        images = F.normalize(images.to(target_device, torch.float32), dim=1)
        texts = F.normalize(texts.to(target_device, torch.float32), dim=1)
        index = index.to(target_device)
        return embedding_ranks(images, texts, index, chunk_size)


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
        chunk_size: query rows scored at once; None picks ~4M scores per chunk.  Peak memory is
            O(chunk_size x max(N, M)).  Only a score's last bit can depend on it (through the matmul's block
            shape), so a recall changes only where a candidate is within a rounding error of a ground truth.
        device: where to compute; default: the device of ``image_embeds``.

    Both embedding sets are L2-normalised here (in float32), so the score is the cosine similarity whatever the
    inputs' scale.  Ties are broken deterministically: among equal scores the lower index (image row or caption
    row) ranks first.  An image with no caption counts as a miss in every image->text recall.

    Returns:
        Python floats in [0, 100], e.g. ``{"i2t_r1": .., .., "t2i_r10": .., "mr": ..}``.
    """
    ks = check_ks(ks)
    i2t, t2i = retrieval_ranks(image_embeds, text_embeds, text_image_index, chunk_size=chunk_size, device=device)
    return _recalls(i2t, t2i, ks)


def recall_from_similarity(
    similarity: ArrayLike,
    text_image_index: ArrayLike,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int | None = None,
) -> dict[str, float]:
    """`retrieval_recall` from a precomputed (N images x M captions) score matrix.

    For scores that are not cosine similarities (e.g. a re-ranker's).  Scores are compared as given, in their own
    dtype, so the ranks are exact for any score matrix; the matrix is not modified.  Same ties, keys and
    conventions.
    """
    ks = check_ks(ks)
    check_chunk_size(chunk_size)
    scores = as_tensor("similarity", similarity)
    check_matrix("similarity", scores)
    index = as_tensor("text_image_index", text_image_index).to(scores.device)
    index = check_index(index, *scores.shape)
    with torch.inference_mode():
        i2t, t2i = similarity_ranks(scores, index, chunk_size)
    return _recalls(i2t, t2i, ks)


__all__ = ["RECALL_COLUMNS", "recall_from_similarity", "retrieval_ranks", "retrieval_recall"]
