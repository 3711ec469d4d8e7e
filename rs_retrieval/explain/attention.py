"""Where the vision tower looks: attention rollout, and relevance to a text query.

* `attention_rollout` (Abnar & Zuidema, 2020) follows attention through the layers of the image alone:
  heads averaged, the residual added as identity, rows renormalised, layers multiplied.
* `text_relevance` (Chefer, Gur & Wolf, 2021, "Generic attention-model explainability") weights every
  attention map by the gradient of the image-text cosine similarity with respect to it, keeps the positive
  part, averages heads and accumulates R += Ā·R from the identity. It depends on the query.

Both read the row of the pooled token (CLS, or the mean of all rows for mean pooling) over the patch tokens
and return one map per image on the patch grid, non-negative and summing to 1. Any ViT-like tower whose
attentions cover [prefix tokens (CLS, DeiT's distillation token) + a patch grid] works: ViT, DeiT,
CLIP-vision. Towers with windowed attention (Swin) or none (convolutional) raise `UnsupportedTowerError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import RsRetrievalError
from ..inference import inference_mode, unwrap
from ..modeling.modeling_rs_dual_encoder import eager_attention
from ..processing.image_conversion import to_rgb_image
from .figures import save_figure


class UnsupportedTowerError(RsRetrievalError, ValueError):
    """The vision tower's attentions do not map onto a patch grid, so no map can be drawn."""


@dataclass(frozen=True)
class AttentionMap:
    """One explanation map on the patch grid (`grid`, non-negative, sums to 1) and how it was made."""

    grid: np.ndarray
    method: str
    query: str | None = None
    score: float | None = None

    @property
    def display(self) -> np.ndarray:
        """The map rescaled to 0..1 (min to max) for colouring."""
        return normalize_for_display(self.grid)


# -- the tower's attentions -------------------------------------------------------------------------------------


def _tower_name(model: nn.Module) -> str:
    tower = model.vision_model
    return f"{type(tower).__name__} (model_type={getattr(tower.config, 'model_type', '?')!r})"


def _patch_grid(model: nn.Module, pixel_values: torch.Tensor) -> tuple[int, int]:
    patch = getattr(model.vision_model.config, "patch_size", None)
    if isinstance(patch, (list, tuple)):
        patch = patch[0]
    if not patch:
        raise UnsupportedTowerError(f"the vision tower {_tower_name(model)} has no patch_size; attention maps need a "
                                    "ViT-like tower (ViT, DeiT, CLIP-vision)")
    return pixel_values.shape[-2] // int(patch), pixel_values.shape[-1] // int(patch)


def _check_attentions(model: nn.Module, attentions: Sequence[torch.Tensor] | None, pixel_values: torch.Tensor,
                      ) -> tuple[list[torch.Tensor], int, tuple[int, int]]:
    """The attentions as a list, the number of prefix tokens before the patches, and the patch grid."""
    if not attentions:
        raise UnsupportedTowerError(f"the vision tower {_tower_name(model)} returns no attentions; attention maps need "
                                    "a ViT-like tower (ViT, DeiT, CLIP-vision)")
    grid = _patch_grid(model, pixel_values)
    batch = pixel_values.shape[0]
    tokens = attentions[0].shape[-1]
    prefix = tokens - grid[0] * grid[1]
    for layer in attentions:
        if layer.dim() != 4 or layer.shape[0] != batch or layer.shape[-2:] != (tokens, tokens) or prefix < 0:
            raise UnsupportedTowerError(
                f"the vision tower {_tower_name(model)} returns attentions of shape {tuple(layer.shape)}, not "
                f"(batch={batch}, heads, N, N) over prefix tokens + a {grid[0]}x{grid[1]} patch grid in every layer "
                "(windowed attention such as Swin's cannot be rolled out); "
                "use a ViT-like tower (ViT, DeiT, CLIP-vision)"
            )
    return list(attentions), prefix, grid


def _vision_forward(model: nn.Module, pixel_values: torch.Tensor):
    """The vision tower's features with its attention probabilities (eager attention, which returns them)."""
    with eager_attention(model.vision_model):
        return model.get_image_features(pixel_values, output_attentions=True)


# -- maps -------------------------------------------------------------------------------------------------------


def _pooled_row(model: nn.Module, relevance: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """B x h x w: the row of the token the embedding is pooled from, over the patch tokens, summing to 1."""
    pooling = getattr(model.config, "vision_pooling", "cls")
    if pooling == "mean" or prefix == 0:
        row = relevance.mean(dim=1)
    else:  # "cls", and "pooler" heads built on the first token (ViT, DeiT, CLIP-vision)
        row = relevance[:, 0]
    patches = row[:, prefix:].clamp(min=0)
    total = patches.sum(dim=-1, keepdim=True)
    patches = torch.where(total > 0, patches / total.clamp(min=torch.finfo(patches.dtype).tiny),
                          torch.full_like(patches, 1.0 / patches.shape[-1]))
    return patches.reshape(-1, *grid)


def rollout_from_attentions(attentions: Sequence[torch.Tensor]) -> torch.Tensor:
    """B x N x N attention rollout: per layer Ã = rownorm(mean_heads(A) + I), then Ã_L ⋯ Ã_1."""
    first = attentions[0]
    identity = torch.eye(first.shape[-1], dtype=torch.float64, device=first.device)
    rollout = identity.expand(first.shape[0], -1, -1)
    for layer in attentions:
        mixed = layer.detach().double().mean(dim=1) + identity
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed @ rollout
    return rollout


def relevance_from_attentions(attentions: Sequence[torch.Tensor], gradients: Sequence[torch.Tensor]) -> torch.Tensor:
    """B x N x N gradient-weighted relevance: R = I; per layer R += mean_heads((∇A ⊙ A)⁺) · R."""
    first = attentions[0]
    relevance = torch.eye(first.shape[-1], dtype=torch.float64, device=first.device).repeat(first.shape[0], 1, 1)
    for layer, grad in zip(attentions, gradients):
        weighted = (grad.detach().double() * layer.detach().double()).clamp(min=0).mean(dim=1)
        relevance = relevance + weighted @ relevance
    return relevance


def attention_rollout(model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """B x h x w rollout maps of the images alone (float64, non-negative, each summing to 1)."""
    with inference_mode(model) as model:
        outputs = _vision_forward(model, pixel_values)
        attentions, prefix, grid = _check_attentions(model, outputs.attentions, pixel_values)
        return _pooled_row(model, rollout_from_attentions(attentions), prefix, grid)


def text_relevance(model: nn.Module, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                   attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """B x h x w relevance maps of the images for the texts, and the B cosine similarities they explain.

    One text for all images, or one per image. Gradients are taken with `torch.autograd.grad` with respect to the
    returned attention probabilities only, so the model's parameter gradients are left untouched.
    """
    with inference_mode(model) as model:
        text_embeds = model.encode_text(input_ids, attention_mask)
        if text_embeds.shape[0] not in (1, pixel_values.shape[0]):
            raise ValueError(f"{text_embeds.shape[0]} texts for {pixel_values.shape[0]} images; "
                             "give one or one per image")
        with torch.enable_grad():
            # A input that requires grad keeps the attentions in the graph even when every weight is frozen.
            pixels = pixel_values.detach().clone().requires_grad_(True)
            outputs = _vision_forward(model, pixels)
            attentions, prefix, grid = _check_attentions(model, outputs.attentions, pixel_values)
            image_embeds = nn.functional.normalize(outputs.pooler_output, dim=-1)
            scores = (image_embeds * text_embeds).sum(dim=-1)
            gradients = torch.autograd.grad(scores.sum(), attentions, allow_unused=True)
    if any(g is None for g in gradients) or all(float(g.abs().max()) == 0.0 for g in gradients):
        raise UnsupportedTowerError(
            f"the attentions returned by {_tower_name(model)} are not the probabilities used in its forward pass "
            "(their gradients are missing or zero), so no relevance can be computed"
        )
    return _pooled_row(model, relevance_from_attentions(attentions, gradients), prefix, grid), scores.detach()


# -- from images and strings ----------------------------------------------------------------------------------


def attention_map(model: nn.Module, processor: Any, image: Any, text: str | None = None) -> AttentionMap:
    """The rollout map of one image, or with `text` its relevance map for that query (English or Arabic)."""
    pixel_values = processor(images=[image], return_tensors="pt")["pixel_values"]
    device = next(unwrap(model).parameters()).device
    pixel_values = pixel_values.to(device)
    if text is None:
        grid = attention_rollout(model, pixel_values)[0]
        return AttentionMap(grid=grid.cpu().numpy(), method="rollout")
    batch = processor(text=[text], return_tensors="pt")
    input_ids, attention_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    maps, scores = text_relevance(model, pixel_values, input_ids, attention_mask)
    return AttentionMap(grid=maps[0].cpu().numpy(), method="relevance", query=text, score=float(scores[0]))


# -- pictures ----------------------------------------------------------------------------------------------------


def normalize_for_display(grid: np.ndarray) -> np.ndarray:
    """`grid` rescaled to 0..1 from its minimum to its maximum (all zeros when it is flat)."""
    grid = np.asarray(grid, dtype=np.float64)
    low, high = float(grid.min()), float(grid.max())
    return (grid - low) / (high - low) if high > low else np.zeros_like(grid)


def overlay_heatmap(image: Any, grid: np.ndarray, size: int = 256, alpha: float = 0.5, cmap: str = "jet",
                    smooth: bool = True) -> Image.Image:
    """A `size` x `size` RGB picture: the image with the map (rescaled to 0..1) coloured by `cmap` blended on top.

    `smooth` upsamples the patch grid bilinearly; without it every patch stays a visible block.
    """
    from matplotlib import colormaps

    if size <= 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need size > 0 and 0 <= alpha <= 1, got size={size}, alpha={alpha}")
    base = to_rgb_image(image).resize((size, size), Image.Resampling.BICUBIC)
    heat = Image.fromarray(normalize_for_display(grid).astype(np.float32), mode="F")
    heat = np.asarray(heat.resize((size, size), Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST))
    coloured = colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * np.asarray(base, dtype=np.float64) + alpha * coloured
    return Image.fromarray(np.clip(blended.round(), 0, 255).astype(np.uint8), "RGB")


def save_attention_figure(path: str | Path, image: Any, amap: AttentionMap, size: int = 256, alpha: float = 0.5,
                          cmap: str = "jet", title: str | None = None, dpi: int = 100) -> Path:
    """Write the image and its overlay side by side under a two-line title as a PNG.

    The title says the method (and the cosine score), then the query, shaped and right-to-left when Arabic.
    The picture is exactly 2·`size` x (`size` + `title_band(size)`) pixels.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from .fonts import arabic_font, display_text, shrink_to_width

    if title is None:
        title = "attention rollout (image only)" if amap.query is None else "relevance to the query"
        if amap.score is not None:
            title += f", cosine {amap.score:.3f}"
    lines = [title] + ([amap.query] if amap.query else [])
    band = title_band(size)
    width, height = 2 * size, size + band
    figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    try:
        panels = [to_rgb_image(image).resize((size, size), Image.Resampling.BICUBIC),
                  overlay_heatmap(image, amap.grid, size=size, alpha=alpha, cmap=cmap)]
        for column, panel in enumerate(panels):
            axes = figure.add_axes((column / 2, 0.0, 0.5, size / height))
            axes.imshow(panel, interpolation="nearest")
            axes.set_axis_off()
        for n, line in enumerate(lines):
            y = 1.0 - band * (n + 0.5) / len(lines) / height
            text = figure.text(0.5, y, display_text(line), ha="center", va="center", fontproperties=arabic_font(),
                               fontsize=min(14.0, band / len(lines) * 0.55 * 72 / dpi))
            shrink_to_width(text, 0.96 * width)
        path = save_figure(figure, path, dpi)
    finally:
        plt.close(figure)
    return path


def title_band(size: int) -> int:
    """Height in pixels of the title band above panels of `size` pixels."""
    return max(44, size // 5)


__all__ = [
    "AttentionMap",
    "UnsupportedTowerError",
    "attention_map",
    "attention_rollout",
    "normalize_for_display",
    "overlay_heatmap",
    "relevance_from_attentions",
    "rollout_from_attentions",
    "save_attention_figure",
    "text_relevance",
    "title_band",
]
