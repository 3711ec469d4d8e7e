"""Locked towers, computed once: the pooled outputs of a tower that training never changes, cached across epochs.

A tower is locked when none of its parameters train (`--freeze_text_tower`, LiT-style, or `--freeze_vision_tower`).
Its output for a given input then never changes, so it is computed once per distinct input (captions repeat a lot in
remote-sensing datasets) and every later step costs only the other tower. A tower with only some parameters frozen
(`--freeze_text_embeddings`) still changes and is never cached.

Caches are keyed by a fingerprint of the tower's weights and configuration, the pooling and the processor settings
that decide its input, and stored under the output folder so that every process of a run, and a resumed run, reads
the same file; a changed tower or processor gets a new file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..inference import inference_mode, unwrap

logger = logging.getLogger(__name__)

#: Under the output folder; the leading underscore keeps it out of every push (the Trainer's and push-model's).
CACHE_FOLDER = "_locked_tower_cache"


def is_locked(tower: torch.nn.Module) -> bool:
    """Every parameter of the tower is frozen (a partly frozen tower still changes)."""
    parameters = list(tower.parameters())
    return bool(parameters) and not any(p.requires_grad for p in parameters)


def tower_fingerprint(tower: torch.nn.Module, settings: dict[str, Any]) -> str:
    """SHA-256 over the tower's weights (names, dtypes, shapes, bytes), its config and the input `settings`."""
    digest = hashlib.sha256()
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    config = getattr(tower, "config", None)
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode("utf-8"))
    for name, tensor in sorted(tower.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class PooledOutputCache:
    """Rows of a locked tower's pooled outputs, looked up by key (a normalised caption, or an image id)."""

    def __init__(self, keys: Sequence[Any], outputs: torch.Tensor, fingerprint: str):
        if len(keys) != outputs.shape[0]:
            raise ValueError(f"{len(keys)} keys for {outputs.shape[0]} cached rows")
        self.row_of = {key: row for row, key in enumerate(keys)}
        self.outputs = outputs
        self.fingerprint = fingerprint

    def __len__(self) -> int:
        return len(self.row_of)

    def __contains__(self, key: Any) -> bool:
        return key in self.row_of

    def lookup(self, keys: Sequence[Any]) -> torch.Tensor:
        missing = [key for key in keys if key not in self.row_of]
        if missing:
            raise KeyError(f"{len(missing)} inputs are not in the locked-tower cache, e.g. {missing[0]!r}")
        return self.outputs[torch.tensor([self.row_of[key] for key in keys], dtype=torch.int64)]

    def save(self, path: Path) -> None:
        """One safetensors file: the rows, with the keys and fingerprint in its metadata (written atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        save_file({"outputs": self.outputs.contiguous()}, str(partial),
                  metadata={"fingerprint": self.fingerprint, "keys": json.dumps(list(self.row_of))})
        partial.replace(path)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> PooledOutputCache | None:
        """The cache in `path` if it was made for `fingerprint`, else None."""
        if not path.is_file():
            return None
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("fingerprint") != fingerprint:
            return None
        return cls(json.loads(metadata["keys"]), load_file(str(path))["outputs"], fingerprint)


def text_cache_settings(processor: Any, pooling: str | None) -> dict[str, Any]:
    """What decides the text tower's input and pooled output besides its weights (the keys are normalised and
    prefixed texts already, so only the tokenizer and the truncation length remain)."""
    tokenizer = processor.tokenizer
    vocabulary = tokenizer.backend_tokenizer.to_str() if getattr(tokenizer, "is_fast", False) else repr(tokenizer)
    return {"kind": "text", "pooling": pooling, "max_length": processor.max_length,
            "tokenizer": hashlib.sha256(vocabulary.encode("utf-8")).hexdigest()}


def tokenize_normalised(processor: Any, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Token ids of texts that `processor.normalize_text` already made (the processor would prefix them again)."""
    return processor.tokenizer(list(texts), padding=True, truncation=True, max_length=processor.max_length,
                               return_tensors="pt")


def _cached_or_computed(model: torch.nn.Module, tower: str, keys: Sequence[Any], settings: dict[str, Any],
                        folder: str | Path, batch_size: int, pool: Callable[[Any, Sequence[Any]], torch.Tensor],
                        progress: bool) -> PooledOutputCache:
    """The cache of `model.<tower>_model` for `keys` from `folder` if one made for this tower and these settings holds
    them all; else `pool(bare_model, batch_of_keys)` batch by batch in inference mode, saved to `folder`."""
    model = unwrap(model)
    fingerprint = tower_fingerprint(getattr(model, f"{tower}_model"), settings)
    path = Path(folder) / CACHE_FOLDER / f"{tower}-{fingerprint[:16]}.safetensors"
    cached = PooledOutputCache.load(path, fingerprint)
    if cached is not None and all(key in cached for key in keys):
        logger.info("locked %s tower: %d pooled outputs read from %s", tower, len(cached), path)
        return cached
    parts = []
    with inference_mode(model) as bare:
        for start in tqdm(range(0, len(keys), batch_size), desc=f"locked {tower} tower", disable=not progress):
            parts.append(pool(bare, keys[start:start + batch_size]).cpu())
    width = model.text_embed_dim if tower == "text" else model.vision_embed_dim
    cache = PooledOutputCache(keys, torch.cat(parts) if parts else torch.empty(0, width), fingerprint)
    cache.save(path)
    logger.info("locked %s tower: %d distinct inputs computed once, saved to %s", tower, len(keys), path)
    return cache


def build_text_cache(model: torch.nn.Module, processor: Any, texts: Sequence[str], folder: str | Path,
                     batch_size: int = 256, progress: bool = False) -> PooledOutputCache:
    """The locked text tower's pooled output for every distinct normalised text (short texts batched together)."""
    keys = sorted(set(processor.normalize_text(list(texts))), key=lambda text: (len(text), text))

    def pool(bare: Any, batch: Sequence[str]) -> torch.Tensor:
        inputs = tokenize_normalised(processor, batch)
        device = next(bare.parameters()).device
        return bare.pool_text(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))

    settings = text_cache_settings(processor, unwrap(model).config.text_pooling)
    return _cached_or_computed(model, "text", keys, settings, folder, batch_size, pool, progress)


def build_image_cache(model: torch.nn.Module, processor: Any, images: Sequence[Any], image_ids: Sequence[int],
                      folder: str | Path, batch_size: int = 64, progress: bool = False) -> PooledOutputCache:
    """The locked vision tower's pooled output for every image (keyed by image id), without augmentation: valid only
    for training that does not augment, since an augmented view is a different input every epoch."""
    keys = [int(image_id) for image_id in image_ids]
    image_of = dict(zip(keys, images))

    def pool(bare: Any, batch: Sequence[int]) -> torch.Tensor:
        pixels = processor(images=[image_of[key] for key in batch], return_tensors="pt")["pixel_values"]
        return bare.pool_image(pixels.to(next(bare.parameters()).device))

    settings = {"kind": "image", "pooling": unwrap(model).config.vision_pooling,
                "image_processor": processor.image_processor.to_dict(), "image_ids": keys}
    return _cached_or_computed(model, "vision", keys, settings, folder, batch_size, pool, progress)


def lock_towers_in_eval_mode(model: torch.nn.Module) -> None:
    """Put locked towers in eval mode (no dropout), as a cache computes them; the Trainer sets train mode every step."""
    bare = unwrap(model)
    for tower in (bare.vision_model, bare.text_model):
        if is_locked(tower) and tower.training:
            tower.eval()


__all__ = ["CACHE_FOLDER", "PooledOutputCache", "build_image_cache", "build_text_cache", "is_locked",
           "lock_towers_in_eval_mode", "tokenize_normalised", "tower_fingerprint"]
