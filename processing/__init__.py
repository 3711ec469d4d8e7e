"""Preprocessing shared by training and serving: image conversion, Arabic-aware text normalisation, the processor."""

from .image_conversion import ImageConversionError, to_rgb_image
from .image_processing_rs_dual_encoder import DualEncoderImageProcessor
from .processing_rs_dual_encoder import DualEncoderProcessor
from .text_normalization import TextNormalizer, has_words

__all__ = [
    "DualEncoderImageProcessor",
    "DualEncoderProcessor",
    "ImageConversionError",
    "TextNormalizer",
    "has_words",
    "to_rgb_image",
]
