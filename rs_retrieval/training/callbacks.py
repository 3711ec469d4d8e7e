"""Trainer callbacks of the dual encoder recipe."""

from __future__ import annotations

from transformers import TrainerCallback

from ..embedding import unwrap


class ClampLogitScaleCallback(TrainerCallback):
    """Clamp `logit_scale` to [0, config.logit_scale_max] after every optimizer step, as CLIP does.

    Without it the temperature keeps growing on small, easy batches until the loss saturates.
    """

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        if model is not None:
            unwrap(model).clamp_logit_scale()


__all__ = ["ClampLogitScaleCallback"]
