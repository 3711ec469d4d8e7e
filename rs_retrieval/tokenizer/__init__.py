"""Tokenizers the package makes and ships: training a small en/ar SentencePiece tokenizer, and the embedded default.

Checkpoints never need this package: they carry their own tokenizer files.
"""

from .defaults import DEFAULT_TOKENIZER_DIR, default_processor, default_tokenizer
from .training import train_sentencepiece_tokenizer

__all__ = ["DEFAULT_TOKENIZER_DIR", "default_processor", "default_tokenizer", "train_sentencepiece_tokenizer"]
