"""Training the dual encoder with the transformers Trainer (accelerate-ready)."""

from .arguments import DataArguments, DualEncoderTrainingArguments, ModelArguments
from .callbacks import ClampLogitScaleCallback, EpochCallback
from .collator import RetrievalCollator
from .trainer import DualEncoderTrainer

__all__ = ["ClampLogitScaleCallback", "EpochCallback", "DataArguments", "DualEncoderTrainer",
           "DualEncoderTrainingArguments", "ModelArguments", "RetrievalCollator"]
