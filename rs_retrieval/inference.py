"""Batched, gradient-free embedding of images and texts with a dual encoder and its processor.

Every embedding path of the package runs through `inference_mode`, which owns the model's eval state, so callers
never save, switch and restore the train flag themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DDP/accelerate/compile wrappers."""
    while hasattr(model, "module"):
        model = model.module
    return getattr(model, "_orig_mod", model)


@contextlib.contextmanager
def inference_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """The bare model in eval mode with gradients off; its train flag is restored on exit, even on error.

    Nested uses are safe: the inner one restores eval mode, the outer one the original flag.
    """
    bare = unwrap(model)
    was_training = bare.training
    bare.eval()
    try:
        with torch.no_grad():
            yield bare
    finally:
        bare.train(was_training)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _embed_in_batches(model: torch.nn.Module, items: Sequence[Any], batch_size: int, encode: Callable,
                      description: str, progress: bool) -> torch.Tensor:
    parts = []
    with inference_mode(model):
        for start in tqdm(range(0, len(items), batch_size), desc=description, disable=not progress, leave=False):
            parts.append(encode(list(items[start:start + batch_size])).float().cpu())
    return torch.cat(parts) if parts else torch.empty(0, model.config.projection_dim)


def embed_images(model: torch.nn.Module, processor: Any, images: Sequence[Any], batch_size: int = 64,
                 progress: bool = False) -> torch.Tensor:
    """L2-normalised embeddings (N x D, float32, on CPU) of images given as PIL images, arrays or paths."""
    model = unwrap(model)
    device = _device(model)

    def encode(batch: list[Any]) -> torch.Tensor:
        return model.encode_image(processor(images=batch, return_tensors="pt")["pixel_values"].to(device))

    return _embed_in_batches(model, images, batch_size, encode, "images", progress)


def embed_texts(model: torch.nn.Module, processor: Any, texts: Sequence[str], batch_size: int = 256,
                progress: bool = False) -> torch.Tensor:
    """L2-normalised embeddings (M x D, float32, on CPU) of texts, normalised by the processor, in input order;
    equal texts get bit-identical rows."""
    model = unwrap(model)
    device = _device(model)

    def encode(batch: list[str]) -> torch.Tensor:
        inputs = processor(text=batch, return_tensors="pt")
        return model.encode_text(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))

    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] must be a str, got {type(text).__name__}")
    # Each distinct text is embedded once, so equal texts get equal embeddings (exact ties in evaluation), in
    # batches of similar length, so batches carry little padding; rows then go back to input order.
    distinct = sorted(dict.fromkeys(texts), key=len)
    embeddings = _embed_in_batches(model, distinct, batch_size, encode, "texts", progress)
    row_of = {text: row for row, text in enumerate(distinct)}
    return embeddings[torch.tensor([row_of[text] for text in texts], dtype=torch.int64)]


__all__ = ["embed_images", "embed_texts", "inference_mode", "unwrap"]
