"""The package's embedded default processor (not shipped with checkpoints: they carry their own files)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from ..processing.image_processing_rs_dual_encoder import DualEncoderImageProcessor
from ..processing.processing_rs_dual_encoder import DualEncoderProcessor

#: A SentencePiece unigram vocabulary trained by `hub_scripts/train_tokenizer.py --lowercase` on the English and
#: Arabic captions of the embedded synthetic dataset.
DEFAULT_TOKENIZER_DIR = Path(__file__).with_name("default_tokenizer")


def default_tokenizer():
    return AutoTokenizer.from_pretrained(str(DEFAULT_TOKENIZER_DIR))


def default_processor(image_size: int = 64, max_length: int = 48) -> DualEncoderProcessor:
    """Image processor for `image_size` tiles + the default bilingual tokenizer, lower-casing English."""
    return DualEncoderProcessor(
        DualEncoderImageProcessor(size=image_size),
        default_tokenizer(),
        max_length=max_length,
        text_normalization={"lowercase": True},
    )


__all__ = ["DEFAULT_TOKENIZER_DIR", "default_processor", "default_tokenizer"]
