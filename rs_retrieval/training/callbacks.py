"""Trainer callbacks of the dual encoder recipe."""

from __future__ import annotations

import math

from transformers import TrainerCallback

from ..inference import unwrap


class ClampLogitScaleCallback(TrainerCallback):
    """Clamp `logit_scale` to [0, config.logit_scale_max] after every optimizer step, as CLIP does.

    Without it the temperature keeps growing on small, easy batches until the loss saturates.
    """

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        if model is not None:
            unwrap(model).clamp_logit_scale()


class EpochCallback(TrainerCallback):
    """Tell the collator which epoch it is collating, so its per-image random draws change every epoch."""

    def __init__(self, collator) -> None:
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = int(math.floor(state.epoch + 1e-6))


__all__ = ["ClampLogitScaleCallback", "EpochCallback"]
