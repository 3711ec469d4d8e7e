"""Make the dual encoder known to the transformers Auto classes, by both routes.

1. Installed package: `register()` maps the `rs_dual_encoder` model type to our classes, so
   `AutoModel.from_pretrained(path)` works without `trust_remote_code` wherever `rs_retrieval` is imported.
2. Remote code: `register_for_auto_class` makes `save_pretrained` write `auto_map` and copy the flat
   configuration/modeling/processing files beside the weights, so `AutoModel.from_pretrained(path,
   trust_remote_code=True)` works where this package is not installed.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoProcessor

from .modeling import DualEncoderConfig, DualEncoderModel
from .processing import DualEncoderImageProcessor, DualEncoderProcessor

_registered = False


def register() -> None:
    """Register config, model, image processor and processor with the Auto classes (idempotent)."""
    global _registered
    if _registered:
        return
    DualEncoderConfig.register_for_auto_class()
    DualEncoderModel.register_for_auto_class("AutoModel")
    DualEncoderImageProcessor.register_for_auto_class("AutoImageProcessor")
    DualEncoderProcessor.register_for_auto_class("AutoProcessor")

    AutoConfig.register(DualEncoderConfig.model_type, DualEncoderConfig, exist_ok=True)
    AutoModel.register(DualEncoderConfig, DualEncoderModel, exist_ok=True)
    AutoImageProcessor.register(DualEncoderConfig, image_processor_classes={"pil": DualEncoderImageProcessor},
                                exist_ok=True)
    AutoProcessor.register(DualEncoderConfig, DualEncoderProcessor, exist_ok=True)
    _registered = True


__all__ = ["register"]
