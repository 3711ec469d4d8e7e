"""Retrieval grids: the top-K images of a split for one text query, with their scores and the ground truth marked.

The query is drawn as the title, shaped and right-to-left when it is Arabic. When the query is a caption of the
split, the images it belongs to (every row with that exact caption) are framed in green.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from ..evaluation import languages_of_split
from ..inference import embed_images, embed_texts
from ..processing.image_conversion import to_rgb_image
from .figures import save_figure

GROUND_TRUTH_COLOUR = (46, 160, 67)
OTHER_COLOUR = (205, 205, 205)


@dataclass(frozen=True)
class RankedImage:
    """One retrieved image: its rank (1-based), row in the split, cosine score and whether it is ground truth."""

    rank: int
    row: int
    score: float
    ground_truth: bool


def caption_rows(dataset: Any, caption: str, languages: Sequence[str] | None = None) -> list[int]:
    """Rows of the split that have `caption` among their captions (of the given languages, by default all)."""
    rows: set[int] = set()
    for lang in languages or languages_of_split(dataset):
        for row, captions in enumerate(dataset[f"captions_{lang}"]):
            if caption in (captions or []):
                rows.add(row)
    return sorted(rows)


def rank_images(model: torch.nn.Module, processor: Any, images: Sequence[Any], query: str, k: int = 6,
                ground_truth: Iterable[int] = (), image_embeds: torch.Tensor | None = None) -> list[RankedImage]:
    """The top `k` images for `query` by cosine similarity (ties by row), marking rows in `ground_truth`."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if not query.strip():
        raise ValueError("the query is empty")
    if image_embeds is None:
        image_embeds = embed_images(model, processor, images)
    text_embed = embed_texts(model, processor, [query])[0]
    scores = (image_embeds @ text_embed).numpy()
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    truth = set(ground_truth)
    return [RankedImage(rank, int(row), float(scores[row]), int(row) in truth) for rank, row in enumerate(order, 1)]


def _tile(image: Any, size: int, ground_truth: bool) -> Image.Image:
    border = max(3, size // 24)
    picture = to_rgb_image(image).resize((size - 2 * border, size - 2 * border), Image.Resampling.BICUBIC)
    return ImageOps.expand(picture, border=border, fill=GROUND_TRUTH_COLOUR if ground_truth else OTHER_COLOUR)


def save_retrieval_grid(path: str | Path, images: Sequence[Any], ranking: Sequence[RankedImage], query: str,
                        labels: Sequence[str] | None = None, tile: int = 160, columns: int | None = None,
                        subtitle: str | None = None, dpi: int = 100) -> Path:
    """Write the ranked images as a grid PNG under the query.

    Each tile shows rank, score (and class label when given); ground-truth images have a green frame. The picture
    is `columns`·`tile` wide and rows·(`tile` + caption band) + title band high, see `grid_size`.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from .fonts import arabic_font, display_text, shrink_to_width

    if not ranking:
        raise ValueError("nothing to draw: the ranking is empty")
    columns = columns or min(len(ranking), 6)
    width, height = grid_size(len(ranking), tile, columns)
    caption_band, title_band = _bands(tile)
    font = arabic_font()
    figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    try:
        for n, item in enumerate(ranking):
            row, column = divmod(n, columns)
            bottom = height - title_band - (row + 1) * (tile + caption_band) + caption_band
            axes = figure.add_axes((column * tile / width, bottom / height, tile / width, tile / height))
            axes.imshow(_tile(images[item.row], tile, item.ground_truth), interpolation="nearest")
            axes.set_axis_off()
            text = f"#{item.rank}  {item.score:.3f}" + ("  ✓" if item.ground_truth else "")
            if labels is not None:
                text += f"\n{labels[item.row]} (row {item.row})"
            figure.text((column + 0.5) * tile / width, (bottom - caption_band / 2) / height, text, ha="center",
                        va="center", fontproperties=font, fontsize=9,
                        color=np.array(GROUND_TRUTH_COLOUR) / 255 if item.ground_truth else "black")
        lines = [query, subtitle or f"top {len(ranking)}; green frame = ground truth"]
        for n, (line, size) in enumerate(zip(lines, (14, 9))):
            artist = figure.text(0.5, 1.0 - title_band * (0.38 if n == 0 else 0.8) / height, display_text(line),
                                 ha="center", va="center", fontproperties=font, fontsize=size)
            shrink_to_width(artist, 0.96 * width)
        path = save_figure(figure, path, dpi)
    finally:
        plt.close(figure)
    return path


def _bands(tile: int) -> tuple[int, int]:
    """Heights of the caption band under each tile and of the title band."""
    return max(36, tile // 4), max(56, tile // 3)


def grid_size(count: int, tile: int = 160, columns: int | None = None) -> tuple[int, int]:
    """(width, height) in pixels of the grid picture for `count` images."""
    columns = columns or min(count, 6)
    rows = -(-count // columns)
    caption_band, title_band = _bands(tile)
    return columns * tile, rows * (tile + caption_band) + title_band


def retrieval_grid(model: torch.nn.Module, processor: Any, dataset: Any, query: str, out: str | Path, k: int = 6,
                   ground_truth: Iterable[int] | None = None, tile: int = 160) -> tuple[Path, list[RankedImage]]:
    """Rank the split's images for `query` and write the grid; ground truth defaults to the rows with that caption."""
    truth = caption_rows(dataset, query) if ground_truth is None else list(ground_truth)
    ranking = rank_images(model, processor, dataset["image"], query, k=k, ground_truth=truth)
    labels = None
    if "label" in dataset.column_names:
        names = getattr(dataset.features["label"], "names", None)
        labels = [names[v] if names else str(v) for v in dataset["label"]]
    hits = sum(item.ground_truth for item in ranking)
    shown = f"top {len(ranking)} of {len(dataset)} images"
    subtitle = (f"{shown}; green frame = ground truth ({hits} of {len(truth)} found)" if truth
                else f"{shown} (free query: no ground truth)")
    path = save_retrieval_grid(out, dataset["image"], ranking, query, labels=labels, tile=tile, subtitle=subtitle)
    return path, ranking


__all__ = [
    "RankedImage",
    "caption_rows",
    "grid_size",
    "rank_images",
    "retrieval_grid",
    "save_retrieval_grid",
]
