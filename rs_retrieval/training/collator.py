"""Turn dataset rows (one per image) into contrastive training batches through the saved processor."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import torch


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
    """

    def __init__(self, processor: Any, languages: Sequence[str], augment: bool = True, seed: int = 0):
        if not languages:
            raise ValueError("give at least one caption language")
        self.processor = processor
        self.languages = list(languages)
        self.augment = augment
        self.seed = seed
        self.epoch = 0

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
        batch = self.processor(images=[row["image"] for row in rows], text=captions, augment=self.augment,
                               generator=generators, return_tensors="pt")
        normalised = self.processor.normalize_text(captions)
        batch["image_ids"] = torch.tensor([int(row["image_id"]) for row in rows], dtype=torch.long)
        batch["caption_ids"] = torch.tensor([zlib.crc32(text.encode("utf-8")) for text in normalised], dtype=torch.long)
        return dict(batch)


__all__ = ["RetrievalCollator"]
