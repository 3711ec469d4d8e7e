"""Zero-shot scene labelling: each class is the averaged text embedding of a few English and/or Arabic prompts.

As in CLIP's prompt ensembling, every label is written into several templates ("an aerial photograph of
{label}", "صورة جوية تظهر {label}", ...); the class vector is the normalised mean of the normalised prompt
vectors, and with both languages the mean of the two languages' class vectors. An image takes the label whose
class vector is nearest (cosine). Where the data has ground truth (a ClassLabel or string column), top-1 and
top-5 accuracy are reported for each prompt language and for both together.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..inference import embed_texts
from ..processing.text_normalization import has_words
from .embedder import embed_items
from .errors import SearchError, SearchInputError
from .gallery import DatasetGallery, Gallery
from .store import Failure

ENGLISH_TEMPLATES = (
    "an aerial photograph of {label}",
    "a satellite image of {label}",
    "an aerial view of {label}",
    "{label} seen from above",
)
#: `{li_label}` is the label after the preposition لِ, with the article merged as Arabic spells it (لمطار, للغابة).
ARABIC_TEMPLATES = (
    "صورة جوية {li_label}",
    "صورة قمر صناعي تظهر {label}",
    "منظر علوي يظهر {label}",
    "{label} من الأعلى",
)


#: The placeholders a template may use.
TEMPLATE_FIELDS = {"label", "li_label"}


def arabic_with_li(label: str) -> str:
    """لِ + label: "مطار" -> "لمطار", "الغابة" -> "للغابة" (the alef of the article drops after lam)."""
    return "لل" + label[2:] if label.startswith("ال") else "ل" + label


def normalise_label(name: str) -> str:
    """Case, underscores and hyphens do not matter when matching class names: "Parking_Lot" == "parking lot"."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", name)).strip().lower()


@dataclass(frozen=True)
class PromptSet:
    """The labels of one language as they go into its templates."""

    language: str
    labels: tuple[str, ...]
    templates: tuple[str, ...]

    def __post_init__(self) -> None:
        """Refuse what would embed as an empty prompt: a label with no word, a template with no label slot."""
        empty = [label for label in self.labels if not has_words(label)]
        if empty:
            raise SearchInputError(f"{self.language} label(s) {empty} have no letter or digit once normalised "
                                   "(only diacritics, tatweel, invisible characters or punctuation)")
        if not self.labels or not self.templates:
            raise SearchInputError(f"{self.language} prompts need at least one label and one template")
        for template in self.templates:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
            if not fields or not fields <= TEMPLATE_FIELDS:
                raise SearchInputError(f"template {template!r} must use {{label}} or {{li_label}} and nothing else")

    def prompts(self, label: str) -> list[str]:
        shown = label.replace("_", " ")
        return [template.format(label=shown, li_label=arabic_with_li(shown)) for template in self.templates]


def class_embeddings(model: torch.nn.Module, processor: Any, prompts: PromptSet) -> torch.Tensor:
    """C x D class vectors: for each label, the normalised mean of its prompts' normalised text embeddings."""
    texts = [text for label in prompts.labels for text in prompts.prompts(label)]
    with torch.inference_mode():
        vectors = embed_texts(model, processor, texts).view(len(prompts.labels), len(prompts.templates), -1)
    return torch.nn.functional.normalize(vectors.mean(dim=1), dim=-1)


def ensemble(*class_vectors: torch.Tensor) -> torch.Tensor:
    """The class vectors of several prompt sets (languages) averaged into one."""
    return torch.nn.functional.normalize(torch.stack(class_vectors).mean(dim=0), dim=-1)


def top_k_accuracy(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Share (in %) of rows whose target is among their `k` highest scores; rows with target -1 are left out."""
    valid = targets >= 0
    if not valid.any():
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores[valid], axis=1, kind="stable")[:, :k]
    return 100.0 * float((top == targets[valid, None]).any(axis=1).mean())


@dataclass
class Prediction:
    """The labels an image got (best first, with cosine scores) and, where known, its true label."""

    key: str
    path: str | None
    top: list[tuple[str, float]]
    truth: str | None = None

    @property
    def label(self) -> str:
        return self.top[0][0]


@dataclass
class ZeroShotReport:
    """Predictions (from the ensemble of all prompt languages), accuracies per prompt set, and skipped images."""

    labels: list[str]
    templates: dict[str, list[str]]
    predictions: list[Prediction]
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    unlabelled: int = 0  # images whose true class is not among the labels (not counted in accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "templates": self.templates,
            "accuracy": self.accuracy,
            "unlabelled": self.unlabelled,
            "predictions": [{"path": p.path, "key": p.key, "label": p.label, "score": p.top[0][1],
                             "top": [{"label": name, "score": score} for name, score in p.top], "truth": p.truth}
                            for p in self.predictions],
            "failures": [{"key": f.key, "path": f.path, "error": f.error} for f in self.failures],
        }


def true_labels(gallery: Gallery, rows: Sequence[int], column: str | None) -> list[str | None] | None:
    """The ground-truth class name of each row, from a ClassLabel or string column; None without a column."""
    if column is None:
        return None
    if not isinstance(gallery, DatasetGallery):
        raise SearchInputError(f"--label-column {column}: only datasets have label columns; this gallery is a folder")
    dataset = gallery.dataset
    if column not in dataset.column_names:
        raise SearchInputError(f"unknown label column {column!r}; the dataset has {dataset.column_names}")
    feature = dataset.features[column]
    values = dataset.select_columns([column]).select(rows)[column]
    names = getattr(feature, "names", None)
    if names is not None:
        return [names[v] if v is not None and v >= 0 else None for v in values]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise SearchInputError(f"label column {column!r} is {feature}, neither a ClassLabel nor strings")
    return list(values)


def _targets(truths: Sequence[str | None], labels: Sequence[str]) -> np.ndarray:
    position = {normalise_label(label): n for n, label in enumerate(labels)}
    targets = np.array([position.get(normalise_label(t), -1) if t is not None else -1 for t in truths])
    if (targets < 0).all():
        classes = sorted({t for t in truths if t is not None})
        raise SearchInputError(f"none of the data's classes {classes} matches a name in --labels {list(labels)}")
    return targets


def classify_gallery(model: torch.nn.Module, processor: Any, gallery: Gallery, prompt_sets: Mapping[str, PromptSet],
                     label_column: str | None = None, top: int = 5, batch_size: int = 64,
                     progress: bool = False) -> ZeroShotReport:
    """Label every image of `gallery` with the ensemble of `prompt_sets`; accuracy per set where labels exist."""
    if not prompt_sets:
        raise SearchError("no prompt sets: give English and/or Arabic labels")
    labels = list(next(iter(prompt_sets.values())).labels)
    if any(len(p.labels) != len(labels) for p in prompt_sets.values()):
        counts = {name: len(p.labels) for name, p in prompt_sets.items()}
        raise SearchError(f"every language needs one label per class; got {counts}")
    classes = {name: class_embeddings(model, processor, prompts) for name, prompts in prompt_sets.items()}
    if len(classes) > 1:
        classes["+".join(classes)] = ensemble(*classes.values())

    vectors, kept, failed = [], [], []
    for batch in embed_items(model, processor, gallery, gallery.items, batch_size=batch_size, progress=progress,
                             description="classifying"):
        vectors.append(batch.embeddings)
        kept += batch.items
        failed += batch.failed
    failed_paths = gallery.metadata([item.position for item, _, _ in failed])["path"].to_pylist() if failed else []
    failures = [Failure(item.key, path, error, fp) for (item, fp, error), path in zip(failed, failed_paths)]
    if not kept:
        raise SearchError(f"none of the {len(gallery)} images could be read (first: {failures[0].error})")
    images = np.concatenate(vectors)
    rows = [item.position for item in kept]
    paths = gallery.metadata(rows)["path"].to_pylist()
    truths = true_labels(gallery, rows, label_column)
    targets = _targets(truths, labels) if truths is not None else None

    report = ZeroShotReport(labels, {name: list(p.templates) for name, p in prompt_sets.items()}, [], failures=failures)
    for name, class_vectors in classes.items():
        scores = images @ class_vectors.numpy().T
        if targets is not None:
            report.accuracy[name] = {"top1": top_k_accuracy(scores, targets, 1),
                                     "top5": top_k_accuracy(scores, targets, 5),
                                     "images": int((targets >= 0).sum())}
    scores = images @ list(classes.values())[-1].numpy().T  # the ensemble of every language given
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    for n, item in enumerate(kept):
        best = [(labels[c], float(scores[n, c])) for c in order[n]]
        report.predictions.append(Prediction(item.key, paths[n], best, truths[n] if truths is not None else None))
    if targets is not None:
        report.unlabelled = int((targets < 0).sum())
    return report


__all__ = [
    "ARABIC_TEMPLATES",
    "ENGLISH_TEMPLATES",
    "Prediction",
    "PromptSet",
    "ZeroShotReport",
    "arabic_with_li",
    "class_embeddings",
    "classify_gallery",
    "ensemble",
    "normalise_label",
    "top_k_accuracy",
]
