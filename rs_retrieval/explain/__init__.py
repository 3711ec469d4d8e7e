"""Explanations and pictures: attention maps of the vision tower, t-SNE of the joint space, retrieval grids.

Needs the `viz` extra (matplotlib, scikit-learn, arabic-reshaper, python-bidi).
"""

from .attention import (
    AttentionMap,
    UnsupportedTowerError,
    attention_map,
    attention_rollout,
    normalize_for_display,
    overlay_heatmap,
    save_attention_figure,
    text_relevance,
)
from .fonts import ArabicFontNotFoundError, arabic_font, arabic_font_path, display_text
from .grid import RankedImage, caption_rows, rank_images, retrieval_grid, save_retrieval_grid
from .tsne import JointPoint, joint_embeddings, plot_tsne, tsne_coordinates, tsne_of_split, write_tsne_csv

__all__ = [
    "ArabicFontNotFoundError",
    "AttentionMap",
    "JointPoint",
    "RankedImage",
    "UnsupportedTowerError",
    "arabic_font",
    "arabic_font_path",
    "attention_map",
    "attention_rollout",
    "caption_rows",
    "display_text",
    "joint_embeddings",
    "normalize_for_display",
    "overlay_heatmap",
    "plot_tsne",
    "rank_images",
    "retrieval_grid",
    "save_attention_figure",
    "save_retrieval_grid",
    "text_relevance",
    "tsne_coordinates",
    "tsne_of_split",
    "write_tsne_csv",
]
