"""The training recipe: how its arguments are read over its defaults, the data it trains on, the model and processor
it starts from, the record it leaves beside the weights. `hub_scripts/train.py` calls these; benchmarks and tests call
them directly.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, HfArgumentParser

from ..checkpoints import CheckpointError, load_model, load_processor
from ..command_line import OneLineErrors
from ..data.loading import check_caption_languages, named_split
from ..errors import RsRetrievalError, UsageError
from ..modeling import DualEncoderConfig, DualEncoderModel
from ..processing import DualEncoderImageProcessor, DualEncoderProcessor
from ..publishing.model_card import RECIPE_FILE
from ..tokenizer import default_tokenizer
from .arguments import DataArguments, DualEncoderTrainingArguments, ModelArguments
from .locked_towers import PooledOutputCache, build_image_cache, build_text_cache, is_locked
from .trainer import DualEncoderTrainer

logger = logging.getLogger("rs_retrieval.train")

#: Recipe defaults that differ from TrainingArguments' (a command line or file still overrides them).
RECIPE_DEFAULTS = {
    "remove_unused_columns": False,  # the collator needs the image and caption columns
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "weight_decay": 0.1,
    "learning_rate": 5e-4,
    "per_device_train_batch_size": 64,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 2,
    "load_best_model_at_end": True,
    "metric_for_best_model": "mr",
    "greater_is_better": True,
    "logging_steps": 10,
    "report_to": "none",
    "dataloader_num_workers": 0,
    "dataloader_pin_memory": False,
    "ddp_find_unused_parameters": False,
}



# Arguments ----------------------------------------------------------------------------------------------------

class _ArgumentParser(OneLineErrors, HfArgumentParser):
    """`HfArgumentParser` whose errors are one `UsageError` line."""


#: Arguments that hold a secret: refused on the command line (visible in `ps`) and in args files (which get shared).
SECRET_ARGUMENTS = ("hub_token",)
ARGS_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def parse_arguments(argv: list[str] | None) -> tuple[ModelArguments, DataArguments, DualEncoderTrainingArguments]:
    """Command line or one YAML/JSON file, over `RECIPE_DEFAULTS`; every mistake is a `UsageError`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _ArgumentParser((ModelArguments, DataArguments, DualEncoderTrainingArguments))
    try:
        if len(argv) == 1 and argv[0].endswith(ARGS_FILE_SUFFIXES):
            values = read_arguments_file(argv[0])
            refuse_secrets(values, where=argv[0])
            return parser.parse_dict({**recipe_defaults(values), **values})
        given = given_flags(argv)
        refuse_secrets(given, where="the command line")
        defaults = [f"--{k}={v}" for k, v in recipe_defaults(given).items()]
        return parser.parse_args_into_dataclasses(args=defaults + argv)
    except (ValueError, TypeError) as error:  # TrainingArguments.__post_init__, unknown flags or keys
        raise UsageError(" ".join(str(error).split())) from error


def given_flags(argv: list[str]) -> dict[str, str | None]:
    """`--name value` / `--name=value` / `--name-with-dashes` on a command line, by underscored name."""
    given: dict[str, str | None] = {}
    for n, argument in enumerate(argv):
        if argument.startswith("--"):
            name, has_value, value = argument[2:].partition("=")
            following = argv[n + 1] if n + 1 < len(argv) and not argv[n + 1].startswith("--") else None
            given[name.replace("-", "_")] = value if has_value else following
    return given


def recipe_defaults(given: dict[str, Any]) -> dict[str, Any]:
    """`RECIPE_DEFAULTS` for what is not given; without evaluation or saving there is no best model to load."""
    defaults = dict(RECIPE_DEFAULTS)
    if any(str(given.get(name, "")).lower() == "no" for name in ("eval_strategy", "save_strategy")):
        defaults["load_best_model_at_end"] = False
    return {key: value for key, value in defaults.items() if key not in given}


def read_arguments_file(path: str) -> dict[str, Any]:
    """The mapping of argument names to values in a YAML or JSON args file."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such arguments file")
    values = _parse_arguments_text(file)
    if not isinstance(values, dict):
        raise UsageError(f"{path}: must hold a mapping of argument names to values, e.g. 'output_dir: out'")
    return values


def _parse_arguments_text(file: Path) -> Any:
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise UsageError(f"{file}: not valid JSON ({error})") from error
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(f"{file}: not valid YAML ({error})") from error


def refuse_secrets(given: Mapping[str, Any], where: str) -> None:
    """Tokens come from HF_TOKEN or `hf auth login`: on a command line every user sees them (`ps`), and files and
    saved training arguments get shared and published."""
    for name in SECRET_ARGUMENTS:
        if name in given:
            raise UsageError(f"--{name} in {where}: a token there can be read by others; set the HF_TOKEN "
                             "environment variable or run `hf auth login` instead")


# Data ----------------------------------------------------------------------------------------------------------

#: How to get an evaluation split the dataset lacks (build_dataset.py makes train and test only by default).
EVAL_SPLIT_FIX = ("Rebuild the dataset with --val-fraction 0.1, evaluate on another split with --eval_split test, or "
                  "train without evaluation with --eval_strategy no")


def select_split(dataset_dict, name: str, languages: list[str], limit: int | None, seed: int = 0,
                 flag: str = "--train_split", fix: str = ""):
    split = named_split(dataset_dict, name, flag, fix)
    check_caption_languages(split, languages)
    columns = [f"captions_{lang}" for lang in languages]
    keep = [i for i, row in enumerate(split.select_columns(columns)) if any(row[c] for c in columns)]
    if not keep:
        raise UsageError(f"{flag} {name}: no image of the split has a caption in {','.join(languages)}")
    if len(keep) < len(split):
        logger.warning("%s: %d of %d images have no caption in %s and are left out", name,
                       len(split) - len(keep), len(split), languages)
        split = split.select(keep)
    if limit is not None and limit < len(split):
        # Built splits are often sorted by class: a seeded sample, not the first rows, keeps every class in.
        split = split.shuffle(seed=seed).select(range(limit))
    return split


# Model and processor -------------------------------------------------------------------------------------------

def build_model_and_processor(model_args: ModelArguments) -> tuple[DualEncoderModel, DualEncoderProcessor]:
    """From a checkpoint, from pretrained towers, from a config, or the embedded default, in that order."""
    extra: dict[str, Any] = {}
    if model_args.attn_implementation:
        extra["attn_implementation"] = model_args.attn_implementation
    if model_args.model_name_or_path:
        return _load_checkpoint(model_args.model_name_or_path, extra)

    config_overrides = {k: v for k, v in {"vision_pooling": model_args.vision_pooling,
                                          "text_pooling": model_args.text_pooling}.items() if v}
    tokenizer_source = model_args.tokenizer or model_args.text_model
    with _loading("--tokenizer" if model_args.tokenizer else "--text_model", tokenizer_source):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source) if tokenizer_source else default_tokenizer()
    with _loading("--config", model_args.config, UsageError):
        base_config = DualEncoderConfig.from_pretrained(model_args.config) if model_args.config else DualEncoderConfig(
            projection_dim=model_args.projection_dim)
    for key, value in config_overrides.items():
        setattr(base_config, key, value)
    if model_args.image_size:
        base_config.vision_config.image_size = model_args.image_size
    image_mean, image_std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    if model_args.vision_model or model_args.text_model:
        # Pretrained where a path is given, from the (base) config's tower otherwise.
        with _loading("--vision_model/--text_model", " and ".join(filter(None, (model_args.vision_model,
                                                                                 model_args.text_model)))):
            model = DualEncoderModel.from_vision_text_pretrained(
                model_args.vision_model, model_args.text_model,
                vision_config=base_config.vision_config, text_config=base_config.text_config,
                projection_dim=base_config.projection_dim, vision_pooling=base_config.vision_pooling,
                text_pooling=base_config.text_pooling,
            )
        if model_args.vision_model:
            image_mean, image_std = _tower_normalisation(model_args.vision_model)
    else:
        base_config.text_config.vocab_size = max(base_config.text_config.vocab_size, len(tokenizer))
        model = DualEncoderModel(base_config)

    image_size = model_args.image_size or model.config.vision_config.image_size
    processor = DualEncoderProcessor(
        DualEncoderImageProcessor(size=image_size, image_mean=image_mean, image_std=image_std),
        tokenizer,
        max_length=model_args.max_length,
        text_prefix=model_args.text_prefix,
        text_normalization={"lowercase": model_args.lowercase},
    )
    return model, processor


def _load_checkpoint(source: str, extra: dict[str, Any]) -> tuple[DualEncoderModel, DualEncoderProcessor]:
    """A DualEncoderModel checkpoint to continue from, through the safetensors-only loader."""
    model = load_model(source, eval_mode=False, **extra)
    if not isinstance(model, DualEncoderModel):
        raise UsageError(f"--model_name_or_path {source}: a {type(model).__name__} checkpoint, not a "
                         "DualEncoderModel; give a single tower with --vision_model or --text_model")
    return model, load_processor(source)


@contextmanager
def _loading(flag: str, source: str | None, error: type[RsRetrievalError] = CheckpointError) -> Iterator[None]:
    """Turn the ways transformers fails to load a user's path (missing files, wrong JSON, unknown model type) into
    one error naming the flag."""
    try:
        yield
    except (OSError, ValueError, KeyError, TypeError) as problem:
        raise error(f"{flag} {source}: cannot be loaded ({' '.join(str(problem).split())})") from problem


def _tower_normalisation(vision_model: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The pixel mean/std a pretrained vision tower was trained with (0.5 when its folder does not say)."""
    from transformers.image_processing_base import ImageProcessingMixin

    try:
        config, _ = ImageProcessingMixin.get_image_processor_dict(vision_model)
    except OSError:
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    return tuple(config.get("image_mean", (0.5,) * 3)), tuple(config.get("image_std", (0.5,) * 3))


def freeze_towers(model: DualEncoderModel, model_args: ModelArguments) -> None:
    for frozen, tower in ((model_args.freeze_vision_tower, model.vision_model),
                          (model_args.freeze_text_tower, model.text_model)):
        if frozen:
            tower.requires_grad_(False)
    if model_args.freeze_text_embeddings:
        model.text_model.get_input_embeddings().requires_grad_(False)


def locked_tower_caches(model: DualEncoderModel, processor: DualEncoderProcessor, train_dataset: Any,
                        languages: list[str], model_args: ModelArguments, data_args: DataArguments,
                        training_args: DualEncoderTrainingArguments) -> dict[str, PooledOutputCache]:
    """The caches of the locked towers (`text`, `image`), built by the main process first and read by the others;
    none with `--cache_locked_towers false`, and none for a vision tower whose inputs are augmented."""
    caches: dict[str, PooledOutputCache] = {}
    if not model_args.cache_locked_towers:
        return caches
    cache_images = is_locked(model.vision_model) and not data_args.augment
    if is_locked(model.vision_model) and data_args.augment:
        logger.info("the vision tower is locked but its inputs are augmented (each view differs): not cached; "
                    "--augment false caches it")
    with training_args.main_process_first(desc="locked tower caches"):
        if is_locked(model.text_model):
            texts = [caption for lang in languages for captions in train_dataset[f"captions_{lang}"]
                     for caption in captions or [] if caption and caption.strip()]
            caches["text"] = build_text_cache(model, processor, texts, training_args.output_dir)
        if cache_images:
            caches["image"] = build_image_cache(model, processor, train_dataset["image"], train_dataset["image_id"],
                                                training_args.output_dir)
    return caches


# After training ------------------------------------------------------------------------------------------------

def final_eval_metrics(trainer: DualEncoderTrainer) -> dict[str, float]:
    """Eval metrics of the model training ended with, reusing the evaluation the Trainer already logged for it
    (the best checkpoint's, or the last step's) and evaluating only when none was logged."""
    return trainer.logged_eval_metrics() or trainer.evaluate()


def write_training_recipe(trainer: DualEncoderTrainer, model_args: ModelArguments, data_args: DataArguments,
                          languages: list[str], train_images: int) -> None:
    """`training_recipe.json` beside the weights: what the model card says about how the model was made."""
    if not trainer.is_world_process_zero():
        return
    args, state = trainer.args, trainer.state
    recipe = {
        "dataset": data_args.dataset, "train_split": data_args.train_split, "eval_split": data_args.eval_split,
        "train_images": train_images, "languages": languages,
        "vision_model": model_args.vision_model, "text_model": model_args.text_model,
        "freeze_vision_tower": model_args.freeze_vision_tower, "freeze_text_tower": model_args.freeze_text_tower,
        "freeze_text_embeddings": model_args.freeze_text_embeddings, "augment": data_args.augment,
        "steps": state.global_step or state.max_steps or args.max_steps,
        "epochs": float(state.epoch or args.num_train_epochs), "batch_size": args.per_device_train_batch_size,
        "processes": args.world_size, "learning_rate": args.learning_rate,
        "vision_learning_rate": model_args.vision_learning_rate, "text_learning_rate": model_args.text_learning_rate,
        "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)), "seed": args.seed,
        "best_metric": state.best_metric,
    }
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / RECIPE_FILE).write_text(json.dumps(recipe, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")


__all__ = [
    "EVAL_SPLIT_FIX",
    "RECIPE_DEFAULTS",
    "build_model_and_processor",
    "final_eval_metrics",
    "freeze_towers",
    "locked_tower_caches",
    "parse_arguments",
    "select_split",
    "write_training_recipe",
]
