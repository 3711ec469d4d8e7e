"""Assembling the synthetic dataset: drawn scenes and their captions as a `datasets.DatasetDict`.

A dataset is a pure function of its seed: image `i` of scene `s` in split `p` is drawn from a generator
seeded by `(seed, p, s, i)`, so it does not depend on which other scenes or how many images are asked for.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .captions import caption_scene
from .scenes import SCENE_TYPES, generate_scene

if TYPE_CHECKING:  # `datasets` is the optional "data" extra; drawing and captioning work without it
    from datasets import DatasetDict, Features

SPLIT_NAMES = ("train", "validation", "test")
#: Images per scene type in each split of the default dataset.
DEFAULT_SPLITS: dict[str, int] = {"train": 32, "validation": 4, "test": 8}


# --------------------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------------------


def _key(name: str) -> int:
    """A stable non-negative integer for a name (Python's `hash` of a str changes between runs)."""
    return zlib.crc32(name.encode("utf-8"))


def _features(scene_types: Sequence[str]) -> Features:
    """The column types, written out so that every split and every saved copy agree."""
    from datasets import ClassLabel, Features, List, Value
    from datasets import Image as ImageFeature

    return Features(
        {
            "image": ImageFeature(),
            "image_id": Value("int64"),
            "filename": Value("string"),
            "captions_en": List(Value("string")),
            "captions_ar": List(Value("string")),
            "label": ClassLabel(names=list(scene_types)),
            "count": Value("int32"),
            "source": Value("string"),
        }
    )


def _split_counts(images_per_scene: int | Mapping[str, int] | None, splits: Mapping[str, int] | None) -> dict[str, int]:
    """Resolve the two ways of asking for sizes into split name -> images per scene type."""
    if images_per_scene is not None and splits is not None:
        raise ValueError("give images_per_scene or splits, not both")
    chosen = splits if splits is not None else images_per_scene
    if chosen is None:
        return dict(DEFAULT_SPLITS)
    counts = {name: chosen for name in SPLIT_NAMES} if isinstance(chosen, int) else dict(chosen)
    if not counts or any(n < 0 for n in counts.values()):
        raise ValueError(f"images per scene must be non-negative and name at least one split, got {chosen!r}")
    return counts


def make_synthetic_dataset(
    images_per_scene: int | Mapping[str, int] | None = None,
    splits: Mapping[str, int] | None = None,
    image_size: int = 64,
    seed: int = 0,
    scene_types: Sequence[str] | None = None,
) -> DatasetDict:
    """Draw and caption the synthetic dataset as a `datasets.DatasetDict`.

    Sizes are images per scene type per split: `splits={"train": 32, "validation": 4, "test": 8}` (the
    default, `DEFAULT_SPLITS`), the same mapping passed as `images_per_scene`, or an int for all three of
    train/validation/test. Rows interleave scene types; `image_id` counts up across splits in order.
    Same arguments give identical pixels and captions.
    """
    from datasets import Dataset, DatasetDict

    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    counts = _split_counts(images_per_scene, splits)
    scenes = list(SCENE_TYPES if scene_types is None else scene_types)
    unknown = sorted(set(scenes) - set(SCENE_TYPES))
    if unknown or not scenes:
        raise ValueError(f"unknown or no scene types {unknown}; known: {', '.join(SCENE_TYPES)}")
    features = _features(scenes)
    next_id = 0
    result = {}
    for split, per_scene in counts.items():
        columns: dict[str, list] = {name: [] for name in features}
        for index in range(per_scene):
            for label, scene in enumerate(scenes):
                rng = np.random.default_rng([seed, _key(split), _key(scene), index])
                image, spec = generate_scene(rng, scene, image_size)
                english, arabic = caption_scene(spec, rng)
                row = {
                    "image": image,
                    "image_id": next_id,
                    "filename": f"{scene}_{next_id:06d}.png",
                    "captions_en": english,
                    "captions_ar": arabic,
                    "label": label,
                    "count": spec.count,
                    "source": "synthetic",
                }
                for name, value in row.items():
                    columns[name].append(value)
                next_id += 1
        result[split] = Dataset.from_dict(columns, features=features)
    return DatasetDict(result)


__all__ = [
    "DEFAULT_SPLITS",
    "SPLIT_NAMES",
    "make_synthetic_dataset",
]
