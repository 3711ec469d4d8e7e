"""The embedded default dataset: procedurally drawn overhead scenes with English and Arabic captions.

`scenes` draws the pictures, `captions` writes what they show in English and Arabic, and `dataset` assembles
them into a `datasets.DatasetDict`; the public names of all three are importable from here.
"""

# `name as name`: public names outside `__all__`, importable from here as from the former single module.
from .captions import (
    CAPTION_TEMPLATES,
    COLOURS,
    COUNTED_NOUNS,
    NOUNS,
    POSITIONS,
    arabic_adjective,
    arabic_count,
    caption_scene,
    english_count,
)
from .captions import CAPTIONS_PER_IMAGE as CAPTIONS_PER_IMAGE
from .captions import EN_NUMBERS as EN_NUMBERS
from .dataset import DEFAULT_SPLITS, make_synthetic_dataset
from .dataset import SPLIT_NAMES as SPLIT_NAMES
from .scenes import MIN_IMAGE_SIZE as MIN_IMAGE_SIZE
from .scenes import PLANE_RGB, SCENE_DRAWERS, SCENE_TYPES, SceneSpec, generate_scene
from .scenes import RGB as RGB
from .scenes import SIDES as SIDES
from .scenes import Drawer as Drawer
from .scenes import Point as Point

__all__ = [
    "CAPTION_TEMPLATES",
    "COLOURS",
    "COUNTED_NOUNS",
    "DEFAULT_SPLITS",
    "NOUNS",
    "PLANE_RGB",
    "POSITIONS",
    "SCENE_DRAWERS",
    "SCENE_TYPES",
    "SPLIT_NAMES",
    "SceneSpec",
    "arabic_adjective",
    "arabic_count",
    "caption_scene",
    "english_count",
    "generate_scene",
    "make_synthetic_dataset",
]
