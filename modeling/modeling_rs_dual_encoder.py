"""The remote-sensing dual encoder: a vision tower and a text tower projected into one space.

This file, `configuration_rs_dual_encoder.py` and `contrastive_loss_rs_dual_encoder.py` are copied beside every
saved checkpoint, so `AutoModel.from_pretrained(path, trust_remote_code=True)` works without this package.
They import each other relatively and make no network calls.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.utils import ModelOutput

from .configuration_rs_dual_encoder import DualEncoderConfig
from .contrastive_loss_rs_dual_encoder import DualEncoderContrastiveLoss


@dataclass
class DualEncoderOutput(ModelOutput):
    """CLIP-style output: the loss, both similarity matrices, the normalised embeddings and the towers' outputs."""

    loss: torch.FloatTensor | None = None
    logits_per_image: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    image_embeds: torch.FloatTensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(
            self[k] if k not in ("text_model_output", "vision_model_output") else getattr(self, k).to_tuple()
            for k in self.keys()
        )


def _tower_kwargs(config, pooling: str) -> dict[str, Any]:
    """Skip a tower's own pooling head when we pool ourselves (an unused head would get no gradient)."""
    model_class = MODEL_MAPPING.get(type(config), None)
    if model_class is not None and pooling != "pooler":
        if "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
            return {"add_pooling_layer": False}
    return {}


def build_tower(config, pooling: str) -> PreTrainedModel:
    """A randomly initialised tower from its config (never downloads)."""
    return AutoModel.from_config(config, **_tower_kwargs(config, pooling))


def pool_tokens(
    outputs: BaseModelOutputWithPooling, pooling: str, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """One vector per sequence from a tower's output, as `pooling` says."""
    if pooling == "pooler":
        if getattr(outputs, "pooler_output", None) is None:
            raise ValueError("pooling='pooler' but this tower returns no pooler_output; use 'cls' or 'mean'")
        return outputs.pooler_output
    hidden = outputs.last_hidden_state
    if hidden.dim() == 4:  # convolutional towers return B x C x H x W
        hidden = hidden.flatten(2).transpose(1, 2)
    if pooling == "cls":
        return hidden[:, 0]
    if attention_mask is None:
        return hidden.mean(dim=1)
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


@contextlib.contextmanager
def eager_attention(*towers: PreTrainedModel) -> Iterator[None]:
    """Run towers with eager attention for one call: SDPA and flash kernels never return attention weights."""
    saved = [tower.config._attn_implementation for tower in towers]
    try:
        for tower in towers:
            tower.config._attn_implementation = "eager"
        yield
    finally:
        for tower, implementation in zip(towers, saved):
            tower.config._attn_implementation = implementation


def _tower_output_size(config) -> int:
    """Width of the vectors a tower pools, read from its config."""
    if config.model_type == "swin":  # Swin doubles its width at every stage
        return int(config.embed_dim * 2 ** (len(config.depths) - 1))
    for name in ("hidden_size", "embed_dim", "d_model"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    if getattr(config, "hidden_sizes", None):  # ConvNeXt/ResNet-style towers
        return int(config.hidden_sizes[-1])
    raise ValueError(f"cannot find the hidden size of a {type(config).__name__}")


class DualEncoderPreTrainedModel(PreTrainedModel):
    config: DualEncoderConfig
    config_class = DualEncoderConfig
    base_model_prefix = "dual_encoder"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True

    def _init_weights(self, module: nn.Module) -> None:
        """Initialise what this class adds; the towers initialise themselves."""
        if isinstance(module, DualEncoderModel):
            factor = self.config.initializer_factor
            init.normal_(module.visual_projection.weight, std=module.vision_embed_dim**-0.5 * factor)
            init.normal_(module.text_projection.weight, std=module.text_embed_dim**-0.5 * factor)
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)


class DualEncoderModel(DualEncoderPreTrainedModel):
    """Vision tower + text tower, bias-free projections into `projection_dim`, a learnable temperature.

    Example:

    ```python
    >>> from PIL import Image
    >>> from rs_retrieval import DualEncoderConfig, DualEncoderModel
    >>> from rs_retrieval.tokenizer import default_processor
    >>> model = DualEncoderModel(DualEncoderConfig()).eval()
    >>> processor = default_processor()
    >>> image = Image.new("RGB", (256, 256), (120, 120, 120))
    >>> inputs = processor(images=[image], text=["three airplanes next to the runway"], return_tensors="pt")
    >>> outputs = model(**inputs)
    >>> outputs.logits_per_text.shape  # 1 x 1 scaled cosine similarity
    torch.Size([1, 1])
    ```
    """

    def __init__(
        self,
        config: DualEncoderConfig,
        vision_model: PreTrainedModel | None = None,
        text_model: PreTrainedModel | None = None,
    ):
        super().__init__(config)
        self.vision_model = (
            vision_model if vision_model is not None else build_tower(config.vision_config, config.vision_pooling)
        )
        self.text_model = text_model if text_model is not None else build_tower(config.text_config, config.text_pooling)

        # One source of truth: the towers read (and attention switches write) the composite config's sub-configs.
        self.config.vision_config._attn_implementation = self.vision_model.config._attn_implementation
        self.config.text_config._attn_implementation = self.text_model.config._attn_implementation
        self.vision_model.config = self.config.vision_config
        self.text_model.config = self.config.text_config

        self.vision_embed_dim = _tower_output_size(config.vision_config)
        self.text_embed_dim = _tower_output_size(config.text_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        self.contrastive_loss = DualEncoderContrastiveLoss()
        self.post_init()

    # -- towers -------------------------------------------------------------------------------------------------

    def _run_vision(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        return self.vision_model(pixel_values=pixel_values, return_dict=True, **kwargs)

    def _run_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                  token_type_ids: torch.Tensor | None = None, **kwargs) -> BaseModelOutputWithPooling:
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        return self.text_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)

    def pool_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The vision tower's pooled output, before the projection (what a locked tower's cache stores)."""
        return pool_tokens(self._run_vision(pixel_values), self.config.vision_pooling)

    def pool_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                  token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The text tower's pooled output, before the projection (what a locked tower's cache stores)."""
        outputs = self._run_text(input_ids, attention_mask, token_type_ids)
        return pool_tokens(outputs, self.config.text_pooling, attention_mask)

    def get_image_features(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        """The vision tower's output with the projected (not normalised) image vector in `pooler_output`."""
        outputs = self._run_vision(pixel_values, **kwargs)
        pooled = pool_tokens(outputs, self.config.vision_pooling)
        return BaseModelOutputWithPooling(
            last_hidden_state=outputs.last_hidden_state,
            pooler_output=self.visual_projection(pooled),
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
        )

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                          token_type_ids: torch.Tensor | None = None, **kwargs) -> BaseModelOutputWithPooling:
        """The text tower's output with the projected (not normalised) text vector in `pooler_output`."""
        outputs = self._run_text(input_ids, attention_mask, token_type_ids, **kwargs)
        pooled = pool_tokens(outputs, self.config.text_pooling, attention_mask)
        return BaseModelOutputWithPooling(
            last_hidden_state=outputs.last_hidden_state,
            pooler_output=self.text_projection(pooled),
            hidden_states=getattr(outputs, "hidden_states", None),
            attentions=getattr(outputs, "attentions", None),
        )

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings, ready for cosine retrieval."""
        return nn.functional.normalize(self.get_image_features(pixel_values).pooler_output, dim=-1)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                    token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """L2-normalised text embeddings, ready for cosine retrieval."""
        features = self.get_text_features(input_ids, attention_mask, token_type_ids).pooler_output
        return nn.functional.normalize(features, dim=-1)

    # -- training / scoring ---------------------------------------------------------------------------------------

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_loss: bool | None = True,
        image_ids: torch.Tensor | None = None,
        caption_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        image_pooled_output: torch.Tensor | None = None,
        text_pooled_output: torch.Tensor | None = None,
        **kwargs,
    ) -> DualEncoderOutput | tuple:
        """Score every text against every image of the batch; with `return_loss`, the contrastive loss.

        Row i of the texts was sampled for row i of the images. `image_ids` (one per row) marks pairs that share an
        image as positives, never negatives: several captions of one image, or its English and Arabic captions.
        `caption_ids` (equal for identical caption strings) likewise make pairs with the very same caption positive.
        The loss covers this batch only; multi-process training scores the global batch itself (`rs_retrieval`'s
        `DualEncoderTrainer`, through `similarity_logits` and `contrastive_loss`).

        `image_pooled_output` / `text_pooled_output` stand in for a tower's run with its pooled output computed
        ahead (`pool_image` / `pool_text`), as training does for a locked tower whose outputs never change.
        """
        if (pixel_values is None and image_pooled_output is None) or (input_ids is None and text_pooled_output is None):
            raise ValueError("forward needs both pixel_values and input_ids (or the towers' pooled outputs); "
                             "use encode_image/encode_text for one side")
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        tower_kwargs = {}
        if output_attentions is not None:
            tower_kwargs["output_attentions"] = output_attentions
        if output_hidden_states is not None:
            tower_kwargs["output_hidden_states"] = output_hidden_states

        attention_context = (
            eager_attention(self.vision_model, self.text_model) if output_attentions else contextlib.nullcontext()
        )
        with attention_context:
            if image_pooled_output is None:
                vision_outputs = self.get_image_features(pixel_values, **tower_kwargs)
            else:
                vision_outputs = BaseModelOutputWithPooling(pooler_output=self.visual_projection(image_pooled_output))
            if text_pooled_output is None:
                text_outputs = self.get_text_features(input_ids, attention_mask, token_type_ids, **tower_kwargs)
            else:
                text_outputs = BaseModelOutputWithPooling(pooler_output=self.text_projection(text_pooled_output))
        image_embeds = nn.functional.normalize(vision_outputs.pooler_output, dim=-1)
        text_embeds = nn.functional.normalize(text_outputs.pooler_output, dim=-1)

        logits_per_text = self.similarity_logits(text_embeds, image_embeds)
        loss = None
        if return_loss:
            loss = self.contrastive_loss(logits_per_text, image_ids=image_ids, caption_ids=caption_ids)

        output = DualEncoderOutput(
            loss=loss,
            logits_per_image=logits_per_text.t(),
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return output if return_dict else output.to_tuple()

    def similarity_logits(self, text_embeds: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        """`logits_per_text` (texts x images): normalised embeddings' cosine similarities times exp(logit_scale).

        The one place the temperature is applied: `forward` scores its batch with it, and multi-process training
        scores the gathered global batch with it, so both feed the loss the same logits.
        """
        return self.logit_scale.exp() * text_embeds @ image_embeds.t()

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        """Keep the temperature in [0, logit_scale_max] (called after every optimizer step)."""
        self.logit_scale.clamp_(0.0, self.config.logit_scale_max)

    @classmethod
    def from_vision_text_pretrained(
        cls,
        vision_name_or_path: str | None = None,
        text_name_or_path: str | None = None,
        vision_config: Any = None,
        text_config: Any = None,
        vision_kwargs: dict[str, Any] | None = None,
        text_kwargs: dict[str, Any] | None = None,
        **config_kwargs,
    ) -> DualEncoderModel:
        """Start from pretrained towers (local folders, or Hub ids where the Hub is reachable).

        A tower given by path is loaded with its weights; a tower given only by `vision_config`/`text_config`
        (a config or dict) starts from scratch, e.g. a ViT trained from scratch beside a pretrained multilingual
        text encoder. A full CLIP/SigLIP checkpoint given as the vision tower contributes its vision half. The
        projections and `logit_scale` are new. `config_kwargs` set the composite config (projection_dim, ...).
        """
        defaults = cls.config_class()
        pooling = {"vision": config_kwargs.get("vision_pooling", defaults.vision_pooling),
                   "text": config_kwargs.get("text_pooling", defaults.text_pooling)}
        towers = {}
        for side, path, config, kwargs in (("vision", vision_name_or_path, vision_config, vision_kwargs),
                                           ("text", text_name_or_path, text_config, text_kwargs)):
            kwargs = dict(kwargs or {})
            if path is None:
                if config is None:
                    config = getattr(defaults, f"{side}_config")
                if isinstance(config, dict):
                    config = AutoConfig.for_model(**config)
                towers[side] = build_tower(config, pooling[side])
                continue
            loaded_config = AutoConfig.from_pretrained(path, **kwargs)
            if side == "vision" and getattr(loaded_config, "vision_config", None) is not None:
                loaded_config = loaded_config.vision_config  # CLIP/SigLIP: keep the image half
            model_class = MODEL_MAPPING[type(loaded_config)]
            kwargs.setdefault("use_safetensors", True)  # pickled weights can run code when loaded
            towers[side] = model_class.from_pretrained(path, config=loaded_config,
                                                       **_tower_kwargs(loaded_config, pooling[side]), **kwargs)
        config = cls.config_class.from_vision_text_configs(towers["vision"].config, towers["text"].config,
                                                           **config_kwargs)
        return cls(config, vision_model=towers["vision"], text_model=towers["text"])


__all__ = ["DualEncoderModel", "DualEncoderOutput", "DualEncoderPreTrainedModel"]
