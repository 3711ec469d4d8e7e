"""Turn dataset rows (one per image) into contrastive training batches through the saved processor."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import torch

from .locked_towers import PooledOutputCache, tokenize_normalised


class RetrievalCollator:
    """One image per row, one caption sampled per image each time the row is seen.

    Rows hold `image`, `image_id` and `captions_<lang>` lists. Sampling a caption (from the languages asked
    for, bilingual training pooling them) rather than expanding every caption into its own row keeps each
    image once per batch, so the only positives left to handle are identical captions of different images:
    `caption_ids` (a hash of the normalised caption) lets the loss treat those as positives too.

    The caption and the augmentation of an image are drawn from a generator keyed by (seed, epoch, image_id),
    not from the global generator: data loaders collate batches ahead of the training step, so global random
    state saved in a checkpoint would not replay them, and a resumed run would see other batches.
    `EpochCallback` keeps `epoch` in step with the Trainer.

    With a `text_cache` (or `image_cache`) of a locked tower, batches carry that tower's pooled outputs
    (`text_pooled_output`, `image_pooled_output`) instead of its inputs, drawn with the same captions and views.
    """

    def __init__(self, processor: Any, languages: Sequence[str], augment: bool = True, seed: int = 0,
                 text_cache: PooledOutputCache | None = None, image_cache: PooledOutputCache | None = None):
        if not languages:
            raise ValueError("give at least one caption language")
        if image_cache is not None and augment:
            raise ValueError("an image cache holds one view of each image; it cannot serve augmented training")
        self.processor = processor
        self.languages = list(languages)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.text_cache = text_cache
        self.image_cache = image_cache

    def _generator(self, image_id: int) -> torch.Generator:
        key = zlib.crc32(f"{self.seed}/{self.epoch}/{image_id}".encode())
        return torch.Generator().manual_seed(key)

    def _sample_caption(self, row: dict[str, Any], generator: torch.Generator) -> str:
        pool = [c for lang in self.languages for c in (row.get(f"captions_{lang}") or []) if c and c.strip()]
        if not pool:
            raise ValueError(f"image {row.get('image_id', '?')} has no caption in {self.languages}")
        return pool[int(torch.randint(len(pool), (1,), generator=generator))]

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        generators = [self._generator(int(row["image_id"])) for row in rows]
        captions = [self._sample_caption(row, g) for row, g in zip(rows, generators)]
        normalised = self.processor.normalize_text(captions)
        image_ids = [int(row["image_id"]) for row in rows]
        batch: dict[str, Any] = {}
        if self.text_cache is not None:
            batch["text_pooled_output"] = self.text_cache.lookup(normalised)
        else:
            batch.update(tokenize_normalised(self.processor, normalised))
        if self.image_cache is not None:
            batch["image_pooled_output"] = self.image_cache.lookup(image_ids)
        else:
            batch.update(self.processor(images=[row["image"] for row in rows], augment=self.augment,
                                        generator=generators, return_tensors="pt"))
        batch["image_ids"] = torch.tensor(image_ids, dtype=torch.long)
        batch["caption_ids"] = torch.tensor([zlib.crc32(text.encode("utf-8")) for text in normalised], dtype=torch.long)
        return dict(batch)


__all__ = ["RetrievalCollator"]
