"""Training the dual encoder with the transformers Trainer (accelerate-ready)."""

from .arguments import DataArguments, ModelArguments
from .callbacks import ClampLogitScaleCallback
from .collator import RetrievalCollator
from .trainer import DualEncoderTrainer

__all__ = ["ClampLogitScaleCallback", "DataArguments", "DualEncoderTrainer", "ModelArguments", "RetrievalCollator"]
