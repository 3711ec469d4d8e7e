"""t-SNE of the joint space: the images and captions of a dataset split as points in one 2-D picture.

Images are blue and texts red, as in the method's figure; with `color_by="label"` the colour is the scene class
and the marker tells the kind apart. English and Arabic captions always have different markers, so one sees
whether the two languages land together beside their images.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..evaluation import flatten_captions, languages_of_split
from ..inference import embed_images, embed_texts
from .figures import save_figure

IMAGE_COLOUR = "tab:blue"
TEXT_COLOUR = "tab:red"
IMAGE_MARKER = "o"
#: Markers of caption languages, in the order the languages are asked for.
TEXT_MARKERS = ("^", "s", "D", "v", "P", "X")
CSV_COLUMNS = ("kind", "language", "row", "label", "x", "y")


@dataclass(frozen=True)
class JointPoint:
    """One embedding of the split: an image (`language` empty) or a caption of the image in `row`."""

    kind: str
    language: str
    row: int
    label: str


def _label_names(dataset: Any) -> list[str]:
    """The class label of every row as text ('' where the split has no `label` column)."""
    if "label" not in dataset.column_names:
        return [""] * len(dataset)
    feature = dataset.features["label"]
    names = getattr(feature, "names", None)
    return [names[v] if names is not None and v is not None and v >= 0 else str(v) for v in dataset["label"]]


def joint_embeddings(model: torch.nn.Module, processor: Any, dataset: Any, languages: Sequence[str] | None = None,
                     max_images: int | None = None, batch_size: int = 64) -> tuple[np.ndarray, list[JointPoint]]:
    """Image embeddings of the first `max_images` rows, then their captions language by language, with their points."""
    available = languages_of_split(dataset)
    languages = list(languages or available)
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise ValueError(f"the dataset has no caption column for {missing}; it has {available}")
    if max_images is not None:
        if max_images <= 0:
            raise ValueError(f"max_images must be positive, got {max_images}")
        dataset = dataset.select(range(min(max_images, len(dataset))))
    labels = _label_names(dataset)
    parts = [embed_images(model, processor, dataset["image"], batch_size=batch_size)]
    points = [JointPoint("image", "", row, labels[row]) for row in range(len(dataset))]
    for lang in languages:
        texts, index = flatten_captions(dataset, [lang])
        parts.append(embed_texts(model, processor, texts, batch_size=batch_size * 4))
        points += [JointPoint("text", lang, row, labels[row]) for row in index]
    return torch.cat(parts).numpy(), points


def tsne_coordinates(embeddings: np.ndarray, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """N x 2 t-SNE coordinates (PCA start, fixed seed, so a run is repeatable)."""
    from sklearn.manifold import TSNE

    count = len(embeddings)
    if count < 3:
        raise ValueError(f"t-SNE needs at least 3 embeddings, got {count}")
    perplexity = perplexity if perplexity is not None else min(30.0, (count - 1) / 3)
    if not 0 < perplexity < count:
        raise ValueError(f"perplexity must be in (0, {count}), got {perplexity}")
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(embeddings, dtype=np.float64))


def write_tsne_csv(path: str | Path, points: Sequence[JointPoint], coordinates: np.ndarray) -> Path:
    """One row per embedding: kind, language, row (image index in the split), label, x, y."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for point, (x, y) in zip(points, coordinates):
            writer.writerow([point.kind, point.language, point.row, point.label, f"{x:.6g}", f"{y:.6g}"])
    return path


def _marker(point: JointPoint, languages: list[str]) -> str:
    return IMAGE_MARKER if point.kind == "image" else TEXT_MARKERS[languages.index(point.language) % len(TEXT_MARKERS)]


def plot_tsne(path: str | Path, points: Sequence[JointPoint], coordinates: np.ndarray, color_by: str = "modality",
              title: str | None = None, size: tuple[int, int] = (800, 640), dpi: int = 100) -> Path:
    """Scatter the points as a `size` PNG: colour by modality (images blue, texts red) or by class label."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    if color_by not in ("modality", "label"):
        raise ValueError(f"color_by must be 'modality' or 'label', got {color_by!r}")
    coordinates = np.asarray(coordinates)
    languages = list(dict.fromkeys(p.language for p in points if p.kind == "text"))
    labels = sorted({p.label for p in points})
    palette = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]

    def colour(point: JointPoint):
        if color_by == "modality":
            return IMAGE_COLOUR if point.kind == "image" else TEXT_COLOUR
        return palette(labels.index(point.label) % palette.N)

    figure = plt.figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    try:
        axes = figure.add_axes((0.06, 0.07, 0.68, 0.85))
        groups: dict[tuple[str, str], list[int]] = {}
        for n, point in enumerate(points):
            groups.setdefault((point.kind, point.language), []).append(n)
        for (kind, _), members in groups.items():
            # Images on top of texts: there are fewer of them and they are the anchors of the picture.
            axes.scatter(coordinates[members, 0], coordinates[members, 1], s=34 if kind == "image" else 16,
                         marker=_marker(points[members[0]], languages), c=[colour(points[i]) for i in members],
                         alpha=0.9 if kind == "image" else 0.55, linewidths=0.4,
                         edgecolors="black" if kind == "image" else "none",
                         zorder=3 if kind == "image" else 2)
        axes.set_xticks([])
        axes.set_yticks([])
        counts = {key: len(members) for key, members in groups.items()}
        kind_handles = [Line2D([], [], linestyle="", marker=IMAGE_MARKER, markersize=7, markeredgecolor="black",
                               color=IMAGE_COLOUR if color_by == "modality" else "grey",
                               label=f"images ({counts.get(('image', ''), 0)})")]
        kind_handles += [Line2D([], [], linestyle="", marker=TEXT_MARKERS[i % len(TEXT_MARKERS)], markersize=7,
                                color=TEXT_COLOUR if color_by == "modality" else "grey",
                                label=f"{lang} captions ({counts.get(('text', lang), 0)})")
                         for i, lang in enumerate(languages)]
        legend = figure.legend(handles=kind_handles, loc="upper left", bbox_to_anchor=(0.75, 0.92), frameon=False,
                               title="points")
        if color_by == "label":
            figure.add_artist(legend)
            figure.legend(handles=[Line2D([], [], linestyle="", marker="o", markersize=7, color=palette(i % palette.N),
                                          label=name or "(none)") for i, name in enumerate(labels)],
                          loc="upper left", bbox_to_anchor=(0.75, 0.62), frameon=False, title="class")
        figure.suptitle(title or "t-SNE of the joint image-text space", y=0.97)
        path = save_figure(figure, path, dpi)
    finally:
        plt.close(figure)
    return path


def tsne_of_split(model: torch.nn.Module, processor: Any, dataset: Any, out: str | Path,
                  languages: Sequence[str] | None = None, color_by: str = "modality", max_images: int | None = None,
                  seed: int = 0, title: str | None = None, csv_path: str | Path | None = None) -> tuple[Path, Path]:
    """Embed a split, run t-SNE and write the picture (`out`) and the coordinates (`csv_path`, default `out`.csv)."""
    embeddings, points = joint_embeddings(model, processor, dataset, languages, max_images)
    coordinates = tsne_coordinates(embeddings, seed=seed)
    out = Path(out)
    images = sum(p.kind == "image" for p in points)
    langs = ", ".join(dict.fromkeys(p.language for p in points if p.kind == "text"))
    title = title or f"t-SNE of the joint space: {images} images, {len(points) - images} captions ({langs})"
    png = plot_tsne(out, points, coordinates, color_by=color_by, title=title)
    return png, write_tsne_csv(csv_path or out.with_suffix(".csv"), points, coordinates)


__all__ = [
    "CSV_COLUMNS",
    "JointPoint",
    "joint_embeddings",
    "plot_tsne",
    "tsne_coordinates",
    "tsne_of_split",
    "write_tsne_csv",
]
