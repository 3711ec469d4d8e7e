"""Command-line / file arguments of `hub_scripts/train.py`, parsed by `HfArgumentParser`."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from ..errors import UsageError

POOLINGS = ("cls", "mean", "pooler")


def _check_positive(arguments: object, names: tuple[str, ...]) -> None:
    """A `UsageError` naming the first of these fields that is set but not a positive number."""
    for name in names:
        value = getattr(arguments, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name} {value}: must be a positive number")


@dataclass
class ModelArguments:
    """Where the model starts from: a checkpoint, pretrained towers, a config, or the embedded default."""

    model_name_or_path: str | None = field(
        default=None, metadata={"help": "a DualEncoderModel checkpoint to continue from"}
    )
    config: str | None = field(
        default=None, metadata={"help": "a DualEncoderConfig (JSON file or folder) to build from scratch"}
    )
    vision_model: str | None = field(default=None, metadata={"help": "pretrained vision tower (folder or Hub id)"})
    text_model: str | None = field(default=None, metadata={"help": "pretrained text tower (folder or Hub id)"})
    tokenizer: str | None = field(
        default=None, metadata={"help": "tokenizer (default: the text tower's, else the package's)"}
    )
    image_size: int | None = field(default=None, metadata={"help": "input resolution (default: the vision config's)"})
    projection_dim: int = field(default=256, metadata={"help": "joint space size for new models"})
    vision_pooling: str | None = field(default=None, metadata={"help": "cls | mean | pooler"})
    text_pooling: str | None = field(default=None, metadata={"help": "cls | mean | pooler (mean for E5-style towers)"})
    text_prefix: str = field(default="", metadata={"help": "prepended to every text, e.g. 'query: ' for E5"})
    max_length: int = field(default=48, metadata={"help": "maximum caption length in tokens"})
    lowercase: bool = field(default=False, metadata={"help": "lower-case texts in the processor"})
    freeze_vision_tower: bool = field(default=False, metadata={"help": "train without updating the vision tower"})
    freeze_text_tower: bool = field(default=False, metadata={"help": "train without updating the text tower (LiT)"})
    cache_locked_towers: bool = field(
        default=True,
        metadata={"help": "compute a locked tower's pooled outputs once per distinct input and reuse them every epoch "
                          "(the text tower always, the vision tower with --augment false)"},
    )
    freeze_text_embeddings: bool = field(
        default=False,
        metadata={"help": "keep the text tower's word embeddings fixed (large multilingual vocabularies)"},
    )
    vision_learning_rate: float | None = field(
        default=None, metadata={"help": "learning rate of the vision tower (default: --learning_rate)"}
    )
    text_learning_rate: float | None = field(
        default=None,
        metadata={"help": "learning rate of the text tower (default: --learning_rate); lower for pretrained"},
    )
    attn_implementation: str | None = field(default=None, metadata={"help": "eager | sdpa"})

    def __post_init__(self) -> None:
        _check_positive(self, ("image_size", "projection_dim", "max_length", "vision_learning_rate",
                               "text_learning_rate"))
        for name in ("vision_pooling", "text_pooling"):
            if getattr(self, name) not in (None, *POOLINGS):
                raise UsageError(f"--{name} {getattr(self, name)}: must be one of {', '.join(POOLINGS)}")
        if self.model_name_or_path and (self.config or self.vision_model or self.text_model):
            raise UsageError("--model_name_or_path continues a checkpoint; it cannot be combined with --config, "
                             "--vision_model or --text_model")


@dataclass
class DataArguments:
    """Which data, which caption languages, which splits."""

    dataset: str = field(default="synthetic", metadata={"help": "'synthetic' (embedded) or a saved DatasetDict folder"})
    languages: str = field(default="en,ar", metadata={"help": "caption languages to train on: en | ar | en,ar | ..."})
    train_split: str = field(default="train")
    eval_split: str = field(default="validation", metadata={"help": "split for evaluation during training"})
    augment: bool = field(default=True, metadata={"help": "rotations, flips and random resized crops while training"})
    max_train_images: int | None = field(default=None)
    max_eval_images: int | None = field(default=None)
    synthetic_seed: int = field(default=0)
    synthetic_image_size: int = field(default=64)
    synthetic_train_per_scene: int = field(default=32)

    def __post_init__(self) -> None:
        _check_positive(self, ("max_train_images", "max_eval_images", "synthetic_image_size",
                               "synthetic_train_per_scene"))
        self.language_list()

    def language_list(self) -> list[str]:
        languages = [lang.strip() for lang in self.languages.split(",") if lang.strip()]
        if not languages:
            raise UsageError(f"--languages {self.languages.strip()!r}: name at least one caption language, e.g. en "
                             "or en,ar")
        return languages


@dataclass
class DualEncoderTrainingArguments(TrainingArguments):
    """The transformers `TrainingArguments`, plus how the contrastive loss is computed across processes."""

    gather_across_processes: bool = field(
        default=True,
        metadata={"help": "with several processes, score each pair against the embeddings of every process (the "
                          "global batch, with gradients) rather than its own process's batch only"},
    )


__all__ = ["DataArguments", "DualEncoderTrainingArguments", "ModelArguments"]
