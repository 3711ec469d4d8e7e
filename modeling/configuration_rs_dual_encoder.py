"""Configuration of the remote-sensing dual encoder: any transformers vision tower + any text tower."""

from __future__ import annotations

import math
from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import logging

logger = logging.get_logger(__name__)

# The embedded default is small enough to train on a CPU in minutes: the ViT sees 64x64 tiles in 8x8
# patches and the BERT-style text tower reads the package's own English+Arabic SentencePiece vocabulary.
DEFAULT_VISION_CONFIG: dict = {
    "image_size": 64,
    "patch_size": 8,
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 256,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}
DEFAULT_TEXT_CONFIG: dict = {
    "vocab_size": 512,  # covers the default tokenizer (rs_retrieval/tokenizer/default_tokenizer, 396 pieces)
    "hidden_size": 128,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "intermediate_size": 256,
    "max_position_embeddings": 64,
    "pad_token_id": 1,
    "type_vocab_size": 1,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}

Pooling = Literal["cls", "mean", "pooler"]


@strict
class DualEncoderConfig(PreTrainedConfig):
    r"""
    Configuration of [`DualEncoderModel`]: a vision transformer and a language transformer projected into one
    embedding space and aligned with a bidirectional contrastive loss (Alsharif, Bazi & Al Rahhal, 2022).

    Args:
        vision_config (`dict` or `PreTrainedConfig`, *optional*):
            Any transformers vision config (ViT, DeiT, CLIP-vision, SigLIP-vision, Swin, ...). A dict without
            `model_type` is read as a ViT config. Defaults to a small ViT for 64x64 tiles.
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            Any transformers text encoder config (BERT, XLM-R, E5/MiniLM, ...). A dict without `model_type`
            is read as a BERT config. Defaults to a small BERT over the package's bilingual vocabulary.
        projection_dim (`int`, defaults to 256): size of the joint embedding space.
        logit_scale_init_value (`float`, defaults to ln(1/0.07)): initial log temperature, as in CLIP.
        logit_scale_max (`float`, defaults to ln(100)): training clamps `logit_scale` to this value.
        vision_pooling / text_pooling (`"cls"`, `"mean"` or `"pooler"`): how a tower's token states become one
            vector. `cls` takes the first token of `last_hidden_state`, `mean` averages the (unpadded) tokens and
            `pooler` uses the tower's own `pooler_output` (right for CLIP-vision, SigLIP and Swin).

    Example:

    ```python
    >>> from rs_retrieval import DualEncoderConfig, DualEncoderModel
    >>> config = DualEncoderConfig(projection_dim=128)
    >>> model = DualEncoderModel(config)
    ```
    """

    model_type = "rs_dual_encoder"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="vit", init_kwargs=DEFAULT_VISION_CONFIG),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="bert", init_kwargs=DEFAULT_TEXT_CONFIG),
    }

    vision_config: PreTrainedConfig | dict | None = None
    text_config: PreTrainedConfig | dict | None = None
    projection_dim: int = 256
    logit_scale_init_value: float = math.log(1 / 0.07)
    logit_scale_max: float = math.log(100.0)
    vision_pooling: Pooling = "cls"
    text_pooling: Pooling = "cls"
    initializer_factor: float = 1.0

    def __post_init__(self, **kwargs) -> None:
        # config.json files written before issue 14 carry `gather_across_processes`, now a training argument.
        if kwargs.pop("gather_across_processes", True) is False:
            logger.warning("config key gather_across_processes is ignored: it is a training argument now "
                           "(--gather_across_processes false)")
        super().__post_init__(**kwargs)

    def validate_dual_encoder(self) -> None:
        """Part of the `@strict` validation: values that would make a model that cannot train."""
        if self.projection_dim <= 0:
            raise ValueError(f"projection_dim must be positive, got {self.projection_dim}")
        if self.logit_scale_init_value > self.logit_scale_max:
            raise ValueError(
                f"logit_scale_init_value ({self.logit_scale_init_value}) "
                f"exceeds logit_scale_max ({self.logit_scale_max})"
            )
        for name in ("vision_pooling", "text_pooling"):
            if getattr(self, name) not in ("cls", "mean", "pooler"):
                raise ValueError(f"{name} must be 'cls', 'mean' or 'pooler', got {getattr(self, name)!r}")

    @classmethod
    def from_vision_text_configs(
        cls, vision_config: PreTrainedConfig, text_config: PreTrainedConfig, **kwargs
    ) -> DualEncoderConfig:
        """Build the composite config from two tower configs (copied, so later edits do not leak)."""
        return cls(vision_config=vision_config.to_dict(), text_config=text_config.to_dict(), **kwargs)


__all__ = ["DualEncoderConfig"]
