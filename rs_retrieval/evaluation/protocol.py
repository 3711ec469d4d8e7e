"""The evaluation protocol: recall of a model on a dataset split, per query language and across languages."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from ..inference import embed_images, embed_texts
from .recall import retrieval_recall


def languages_of_split(dataset: Any) -> list[str]:
    """Language codes of the `captions_<code>` columns of a dataset split."""
    return [c.removeprefix("captions_") for c in dataset.column_names if c.startswith("captions_")]


def query_sets_for(languages: Sequence[str]) -> dict[str, list[str]]:
    """Each language its own query set and, with several, all of them together (the cross-lingual set, "en+ar")."""
    query_sets = {lang: [lang] for lang in languages}
    if len(languages) > 1:
        query_sets["+".join(languages)] = list(languages)
    return query_sets


def flatten_captions(dataset: Any, languages: Sequence[str]) -> tuple[list[str], list[int]]:
    """All captions of the given languages, and for each the row of its image (the standard protocol's layout)."""
    texts: list[str] = []
    index: list[int] = []
    columns = {lang: dataset[f"captions_{lang}"] for lang in languages}
    for row in range(len(dataset)):
        for lang in languages:
            captions = columns[lang][row] or []
            texts.extend(captions)
            index.extend([row] * len(captions))
    return texts, index


def evaluate_retrieval(
    model: torch.nn.Module,
    processor: Any,
    dataset: Any,
    query_sets: dict[str, Sequence[str]] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Recall@1/5/10 both ways and mR for each query set (e.g. {"en": ["en"], "ar": ["ar"], "en+ar": ["en", "ar"]}).

    Images are embedded once and shared by every query set. By default each caption language is its own query
    set and, when there are several, all languages together form a cross-lingual one.
    """
    languages = languages_of_split(dataset)
    if query_sets is None:
        query_sets = query_sets_for(languages)
    missing = sorted({lang for langs in query_sets.values() for lang in langs} - set(languages))
    if missing:
        raise ValueError(f"the dataset has no caption column for {missing}; it has {languages}")
    image_embeds = embed_images(model, processor, dataset["image"], batch_size=batch_size, progress=progress)
    # Each language is embedded once; cross-lingual query sets reuse those embeddings.
    per_language: dict[str, tuple[torch.Tensor, list[int]]] = {}
    for lang in dict.fromkeys(lang for langs in query_sets.values() for lang in langs):
        texts, index = flatten_captions(dataset, [lang])
        per_language[lang] = (embed_texts(model, processor, texts, batch_size=batch_size * 4, progress=progress), index)
    results: dict[str, dict[str, float]] = {}
    for name, langs in query_sets.items():
        text_embeds = torch.cat([per_language[lang][0] for lang in langs])
        index = [row for lang in langs for row in per_language[lang][1]]
        if index:
            results[name] = retrieval_recall(image_embeds, text_embeds, index)
    return results


def evaluate_checkpoint(model_path: str, dataset: str, split: str, languages: list[str] | None = None,
                        batch_size: int = 64, trust_remote_code: bool = False, progress: bool = True) -> dict[str, Any]:
    """Recall tables for one checkpoint; the returned dict is what `--out` writes."""
    from ..checkpoints import load_model_and_processor
    from ..data.loading import check_caption_languages, load_split
    from ..provenance import code_version

    data = load_split(dataset, split)
    languages = check_caption_languages(data, languages_of_split(data) if languages is None else languages)
    model, processor = load_model_and_processor(model_path, trust_remote_code=trust_remote_code)
    query_sets = query_sets_for(languages)
    started = time.perf_counter()
    with torch.inference_mode():
        results = evaluate_retrieval(model, processor, data, query_sets=query_sets, batch_size=batch_size,
                                     progress=progress)
    return {
        "checkpoint": str(model_path),
        "dataset": dataset,
        "split": split,
        "images": len(data),
        "captions": {lang: sum(len(c or []) for c in data[f"captions_{lang}"]) for lang in languages},
        "results": results,
        "seconds": round(time.perf_counter() - started, 2),
        "code_version": code_version(),
    }


__all__ = [
    "evaluate_checkpoint",
    "evaluate_retrieval",
    "flatten_captions",
    "languages_of_split",
    "query_sets_for",
]
