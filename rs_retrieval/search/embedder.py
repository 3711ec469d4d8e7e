"""Embed gallery items batch by batch, skipping (and naming) the images that cannot be read.

Only one batch of decoded images is held at a time, plus the next one being decoded in a helper thread while the
model runs, so memory does not grow with the gallery. `model_fingerprint` names what the vectors depend on (the
weights and the image preprocessing), so that an index never mixes vectors of two models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..inference import inference_mode, unwrap
from ..processing.image_conversion import ImageConversionError
from .gallery import Gallery, GalleryItem


@dataclass
class EmbeddedBatch:
    """The outcome of one batch: vectors of the items that loaded (in order) and the errors of those that did not."""

    items: list[GalleryItem]
    fingerprints: list[str]
    embeddings: np.ndarray
    failed: list[tuple[GalleryItem, str, str]]  # (item, fingerprint, error)


def model_fingerprint(model: torch.nn.Module, processor: Any) -> str:
    """A hash of the weights and the image preprocessing settings: equal fingerprints give equal image vectors."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(unwrap(model).state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    settings = processor.image_processor.to_dict()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def embedding_dimension(model: torch.nn.Module) -> int:
    return int(unwrap(model).config.projection_dim)


def describe_error(error: Exception) -> str:
    """Conversion errors already name the file and the problem; anything else gets its type in front."""
    return str(error) if isinstance(error, ImageConversionError) else f"{type(error).__name__}: {error}"


def _prepare(processor: Any, gallery: Gallery, items: Sequence[GalleryItem],
             fingerprints: Sequence[str]) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Pixel tensors of the items that load; (index in batch, error) for those that do not."""
    loaded, tensors, errors = [], [], []
    for n, item in enumerate(items):
        try:
            image = gallery.load(item)
            tensors.append(processor.image_processor(image, return_tensors="pt")["pixel_values"][0])
            loaded.append(n)
        except Exception as error:  # noqa: BLE001 -- decoders raise many types; the item is skipped and named
            errors.append((n, describe_error(error)))
    return loaded, (torch.stack(tensors) if tensors else None), errors


def embed_items(model: torch.nn.Module, processor: Any, gallery: Gallery, items: Sequence[GalleryItem],
                fingerprints: Sequence[str] | None = None, batch_size: int = 64, progress: bool = False,
                description: str = "embedding") -> Iterator[EmbeddedBatch]:
    """Yield one `EmbeddedBatch` per `batch_size` items, in order; images are decoded one batch ahead."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = next(model.parameters()).device
    fingerprints = list(fingerprints) if fingerprints is not None else [""] * len(items)
    starts = list(range(0, len(items), batch_size))
    bar = tqdm(total=len(items), desc=description, unit="img", disable=not progress)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            def submit(start: int):
                stop = start + batch_size
                return pool.submit(_prepare, processor, gallery, items[start:stop], fingerprints[start:stop])

            pending = submit(starts[0]) if starts else None
            for n, start in enumerate(starts):
                loaded, pixels, errors = pending.result()
                pending = submit(starts[n + 1]) if n + 1 < len(starts) else None
                vectors = np.zeros((0, embedding_dimension(model)), dtype=np.float32)
                if pixels is not None:
                    # Entered per batch, not around the loop: a generator must not leave autograd off in its
                    # consumer's code between yields.
                    with inference_mode(model) as bare:
                        vectors = bare.encode_image(pixels.to(device)).float().cpu().numpy()
                yield EmbeddedBatch(
                    items=[items[start + i] for i in loaded],
                    fingerprints=[fingerprints[start + i] for i in loaded],
                    embeddings=vectors,
                    failed=[(items[start + i], fingerprints[start + i], error) for i, error in errors],
                )
                bar.update(min(batch_size, len(items) - start))
    finally:
        bar.close()


__all__ = ["EmbeddedBatch", "describe_error", "embed_items", "embedding_dimension", "model_fingerprint"]
