"""The contrastive loss over the global batch of every training process.

With N processes each holding B pairs, each process gathers all N·B text and image embeddings (with gradient), scores
them with the model's own `similarity_logits` and applies the model's own contrastive loss, so every process computes
the loss of one process holding the concatenated batch. The gather's backward sums every process's gradient into
each process's slice and DDP averages parameter gradients over the N processes, so the parameters get the gradient
of that one-process loss. Batches must be the same size on every process (the Trainer's default sampler pads the
last batch). The model's own files know nothing of processes; this is training's business.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..inference import unwrap


def world_size() -> int:
    """How many processes train together (1 without an initialised process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each process the summed gradient of its own slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = dist.get_rank(), tensor.shape[0]
        return gather_without_grad(tensor)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad)  # every process's loss depends on every slice
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor from every process in rank order, gradients flowing back to each process's own slice."""
    return _GatherWithGrad.apply(tensor)


def gather_without_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor from every process in rank order (ids and other tensors that need no gradient)."""
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


def _gather_ids(ids: torch.Tensor | None) -> torch.Tensor | None:
    return gather_without_grad(ids) if ids is not None else None


def global_batch_loss(model: nn.Module, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any]:
    """Run `model` (bare or DDP-wrapped) on this process's batch; the contrastive loss over all processes' batches.

    Returns the loss and the model's outputs for this process's batch. The towers run inside the (wrapped) model's
    forward, so DDP sees every parameter used; the gathered embeddings are scored outside it.
    """
    outputs = model(**inputs, return_loss=False)
    bare = unwrap(model)
    logits_per_text = bare.similarity_logits(gather_with_grad(outputs.text_embeds),
                                             gather_with_grad(outputs.image_embeds))
    loss = bare.contrastive_loss(logits_per_text, image_ids=_gather_ids(inputs.get("image_ids")),
                                 caption_ids=_gather_ids(inputs.get("caption_ids")))
    return loss, outputs


__all__ = ["gather_with_grad", "gather_without_grad", "global_batch_loss", "world_size"]
