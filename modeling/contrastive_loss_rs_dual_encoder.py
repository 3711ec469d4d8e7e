"""Bidirectional contrastive loss over the similarity logits, with several positives per row.

Remote-sensing caption sets repeat captions and a batch may hold several captions of one image (or the English
and Arabic captions of one image, in bilingual training). Treating those as negatives teaches the model to push
apart things that match, so every pair that shares an image id is a positive. The loss of a row is the MIL-NCE
form (Miech et al., 2020): the negative log of the softmax probability summed over all of the row's positives.
With one positive per row it is exactly CLIP's symmetric InfoNCE.

The loss reads the logits the model computed (`DualEncoderModel.similarity_logits`), never embeddings, so scoring
has one source of truth. Multi-process training gathers the embeddings first (`rs_retrieval.training`); nothing
here knows about processes.
"""

from __future__ import annotations

import torch
from torch import nn


def multi_positive_nce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -log(sum of softmax(row) over the row's positives).

    `logits` is R x C, `positives` an R x C boolean mask with at least one True per row.
    """
    if not bool(positives.any(dim=1).all()):
        raise ValueError("every row of the contrastive loss needs at least one positive")
    log_probs = logits.log_softmax(dim=1)
    positive_log_probs = log_probs.masked_fill(~positives, float("-inf"))
    return -positive_log_probs.logsumexp(dim=1).mean()


def positive_mask(row_ids: torch.Tensor | None, column_ids: torch.Tensor | None, rows: int, columns: int,
                  device: torch.device | None = None) -> torch.Tensor:
    """R x C mask of positives: shared ids, or the diagonal without ids."""
    if row_ids is None or column_ids is None:
        return torch.arange(rows, device=device)[:, None] == torch.arange(columns, device=device)[None, :]
    return row_ids.reshape(-1, 1) == column_ids.reshape(1, -1)


def pair_positives(text_image_ids: torch.Tensor | None, image_ids: torch.Tensor | None,
                   caption_ids: torch.Tensor | None, rows: int, columns: int,
                   device: torch.device | None = None) -> torch.Tensor:
    """Texts x images mask of positives: the same image, or (when caption ids are given) the very same caption.

    UCM-style caption sets give different images identical captions ("there are many green trees"); such a
    caption is a true description of both images, so neither is its negative.
    """
    positives = positive_mask(text_image_ids, image_ids, rows, columns, device)
    if caption_ids is not None:
        positives = positives | positive_mask(caption_ids, caption_ids, rows, columns, device)
    return positives


def _check_lengths(rows: int, columns: int, **ids: torch.Tensor | None) -> None:
    """Each id tensor must have one entry per row (texts) or column (images) it labels; a short one would broadcast."""
    expected = {"image_ids": (columns, "images"), "text_image_ids": (rows, "texts"), "caption_ids": (rows, "pairs")}
    for name, values in ids.items():
        size, what = expected[name]
        if values is not None and len(values) != size:
            raise ValueError(f"{name} has {len(values)} entries for a batch of {size} {what}")
    if ids.get("caption_ids") is not None and rows != columns:
        raise ValueError(f"caption_ids needs row-aligned pairs, got {rows} texts and {columns} images")


class DualEncoderContrastiveLoss(nn.Module):
    """Symmetric (text→image and image→text, averaged) multi-positive InfoNCE over `logits_per_text`.

    Pairs are row-aligned: text i was sampled for image i, so without ids the diagonal holds the positives.
    `image_ids` (per image column) and `text_image_ids` (per text row, default: the same as `image_ids`) mark every
    text/image pair that shares an id as positive; `caption_ids` (per pair, equal for identical captions) also make
    pairs with the same caption positive.

    Example:

    ```python
    >>> outputs = model(pixel_values=pixels, input_ids=input_ids, return_loss=False)
    >>> loss = DualEncoderContrastiveLoss()(outputs.logits_per_text, image_ids=batch_image_ids)
    ```
    """

    def forward(
        self,
        logits_per_text: torch.Tensor,
        image_ids: torch.Tensor | None = None,
        text_image_ids: torch.Tensor | None = None,
        caption_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if text_image_ids is None:
            text_image_ids = image_ids
        rows, columns = logits_per_text.shape
        _check_lengths(rows, columns, image_ids=image_ids, text_image_ids=text_image_ids, caption_ids=caption_ids)
        positives = pair_positives(text_image_ids, image_ids, caption_ids, rows, columns, logits_per_text.device)
        text_to_image = multi_positive_nce(logits_per_text, positives)
        image_to_text = multi_positive_nce(logits_per_text.t(), positives.t())
        return (text_to_image + image_to_text) / 2


__all__ = [
    "DualEncoderContrastiveLoss",
    "multi_positive_nce",
    "pair_positives",
    "positive_mask",
]
