"""Batched, gradient-free embedding of images and texts with a dual encoder and its processor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DDP/accelerate/compile wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return getattr(model, "_orig_mod", model)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def embed_images(model: torch.nn.Module, processor: Any, images: Sequence[Any], batch_size: int = 64,
                 progress: bool = False) -> torch.Tensor:
    """L2-normalised embeddings (N x D, float32, on CPU) of images given as PIL images, arrays or paths."""
    model = unwrap(model)
    device = _device(model)
    parts = []
    for start in tqdm(range(0, len(images), batch_size), desc="images", disable=not progress, leave=False):
        batch = processor(images=list(images[start:start + batch_size]), return_tensors="pt")
        parts.append(model.encode_image(batch["pixel_values"].to(device)).float().cpu())
    return torch.cat(parts) if parts else torch.empty(0, model.config.projection_dim)


@torch.no_grad()
def embed_texts(model: torch.nn.Module, processor: Any, texts: Sequence[str], batch_size: int = 256,
                progress: bool = False) -> torch.Tensor:
    """L2-normalised embeddings (M x D, float32, on CPU) of texts, normalised by the processor."""
    model = unwrap(model)
    device = _device(model)
    parts = []
    for start in tqdm(range(0, len(texts), batch_size), desc="texts", disable=not progress, leave=False):
        batch = processor(text=list(texts[start:start + batch_size]), return_tensors="pt")
        parts.append(model.encode_text(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu())
    return torch.cat(parts) if parts else torch.empty(0, model.config.projection_dim)


__all__ = ["embed_images", "embed_texts", "unwrap"]
