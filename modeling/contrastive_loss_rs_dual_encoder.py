"""Bidirectional contrastive loss with several positives per row, and its multi-process form.

Remote-sensing caption sets repeat captions and a batch may hold several captions of one image (or the English
and Arabic captions of one image, in bilingual training). Treating those as negatives teaches the model to push
apart things that match, so every pair that shares an image id is a positive. The loss of a row is the MIL-NCE
form (Miech et al., 2020): the negative log of the softmax probability summed over all of the row's positives.
With one positive per row it is exactly CLIP's symmetric InfoNCE.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
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
                  row_offset: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """R x C mask of positives: shared ids, or the diagonal (shifted by `row_offset`) without ids."""
    if row_ids is None or column_ids is None:
        row_index = torch.arange(rows, device=device) + row_offset
        return row_index[:, None] == torch.arange(columns, device=device)[None, :]
    return row_ids.reshape(-1, 1) == column_ids.reshape(1, -1)


def pair_positives(row_image_ids: torch.Tensor | None, column_image_ids: torch.Tensor | None,
                   row_caption_ids: torch.Tensor | None, column_caption_ids: torch.Tensor | None,
                   rows: int, columns: int, row_offset: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """Positives of row-aligned pairs: the same image, or (when caption ids are given) the very same caption.

    UCM-style caption sets give different images identical captions ("there are many green trees"); such a
    caption is a true description of both images, so neither is its negative.
    """
    positives = positive_mask(row_image_ids, column_image_ids, rows, columns, row_offset, device)
    if row_caption_ids is not None and column_caption_ids is not None:
        positives = positives | positive_mask(row_caption_ids, column_caption_ids, rows, columns, row_offset, device)
    return positives


def dual_encoder_contrastive_loss(
    text_embeds: torch.Tensor,
    image_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    image_ids: torch.Tensor | None = None,
    text_image_ids: torch.Tensor | None = None,
    caption_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric (text→image and image→text, averaged) multi-positive InfoNCE for one process.

    Pairs are row-aligned: text i was sampled for image i. `image_ids` (per image row) and `text_image_ids`
    (per text row, default: the same as `image_ids`) mark every text/image pair that shares an id as positive;
    `caption_ids` (per row, equal for identical captions) also make pairs with the same caption positive.
    """
    if text_image_ids is None:
        text_image_ids = image_ids
    logits_per_text = logit_scale.exp() * text_embeds @ image_embeds.t()
    positives = pair_positives(text_image_ids, image_ids, caption_ids, caption_ids, len(text_embeds),
                               len(image_embeds), device=logits_per_text.device)
    text_to_image = multi_positive_nce(logits_per_text, positives)
    image_to_text = multi_positive_nce(logits_per_text.t(), positives.t())
    return (text_to_image + image_to_text) / 2


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each process the summed gradient of its own slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = dist.get_rank(), tensor.shape[0]
        return gather_without_grad(tensor)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad)  # every process's loss may depend on every slice
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor from every process, gradients flowing back to each process's own slice."""
    return _GatherWithGrad.apply(tensor)


def gather_without_grad(tensor: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


class DualEncoderContrastiveLoss(nn.Module):
    """The contrastive loss of the dual encoder over the global batch of all processes.

    With N processes each holding B pairs, every process scores its own B texts against all N·B images and its
    own B images against all N·B texts (labels offset by rank). Embeddings are gathered with gradient, so the
    averaged gradients equal those of one process holding the concatenated N·B batch. Batches must be the same
    size on every process (the Trainer's default sampler pads the last batch). With one process it is
    `dual_encoder_contrastive_loss`.

    Example:

    ```python
    >>> loss_fn = DualEncoderContrastiveLoss()
    >>> loss = loss_fn(text_embeds, image_embeds, model.logit_scale, image_ids=batch_image_ids)
    ```
    """

    def __init__(self, gather_across_processes: bool = True):
        super().__init__()
        self.gather_across_processes = gather_across_processes

    def forward(
        self,
        text_embeds: torch.Tensor,
        image_embeds: torch.Tensor,
        logit_scale: torch.Tensor,
        image_ids: torch.Tensor | None = None,
        text_image_ids: torch.Tensor | None = None,
        caption_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if text_image_ids is None:
            text_image_ids = image_ids
        rank, world_size = _world()
        if world_size == 1 or not self.gather_across_processes:
            return dual_encoder_contrastive_loss(text_embeds, image_embeds, logit_scale, image_ids, text_image_ids,
                                                 caption_ids)

        all_images = gather_with_grad(image_embeds)
        all_texts = gather_with_grad(text_embeds)
        all_image_ids = gather_without_grad(image_ids) if image_ids is not None else None
        all_text_image_ids = gather_without_grad(text_image_ids) if text_image_ids is not None else None
        all_caption_ids = gather_without_grad(caption_ids) if caption_ids is not None else None
        scale = logit_scale.exp()

        local_text_logits = scale * text_embeds @ all_images.t()
        local_image_logits = scale * image_embeds @ all_texts.t()
        offset = rank * len(text_embeds)
        text_positives = pair_positives(text_image_ids, all_image_ids, caption_ids, all_caption_ids,
                                        len(text_embeds), len(all_images), offset, local_text_logits.device)
        image_positives = pair_positives(image_ids, all_text_image_ids, caption_ids, all_caption_ids,
                                         len(image_embeds), len(all_texts), offset, local_image_logits.device)
        text_to_image = multi_positive_nce(local_text_logits, text_positives)
        image_to_text = multi_positive_nce(local_image_logits, image_positives)
        return (text_to_image + image_to_text) / 2


__all__ = [
    "DualEncoderContrastiveLoss",
    "dual_encoder_contrastive_loss",
    "gather_with_grad",
    "multi_positive_nce",
    "pair_positives",
    "positive_mask",
]
