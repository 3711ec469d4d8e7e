"""rs-retrieval: search remote-sensing images with English or Arabic text.

A dual encoder (vision transformer + multilingual text transformer, contrastively aligned) packaged as a
Hugging Face model. `modeling/` and `processing/` hold the code that is copied beside every checkpoint;
this package exposes them as `rs_retrieval.modeling` and `rs_retrieval.processing` and registers them with
the transformers Auto classes on import.
"""

from .modeling import DualEncoderConfig, DualEncoderContrastiveLoss, DualEncoderModel, DualEncoderOutput
from .processing import DualEncoderImageProcessor, DualEncoderProcessor, TextNormalizer
from .registration import register

__version__ = "0.1.0"

register()

__all__ = [
    "DualEncoderConfig",
    "DualEncoderContrastiveLoss",
    "DualEncoderImageProcessor",
    "DualEncoderModel",
    "DualEncoderOutput",
    "DualEncoderProcessor",
    "TextNormalizer",
    "__version__",
    "register",
]
