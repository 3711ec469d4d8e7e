"""Train a dual encoder for English, Arabic or bilingual remote-sensing retrieval.

    python hub_scripts/train.py --output_dir out --languages en,ar --num_train_epochs 10
    accelerate launch hub_scripts/train.py ...          # or: torchrun --nproc_per_node N hub_scripts/train.py ...
    python hub_scripts/train.py args.yaml                # every argument from one YAML/JSON file
    python hub_scripts/train.py ... --push_to_hub --hub_model_id org/name [--hub_strategy every_save]

Pushing uses the token in HF_TOKEN or from `hf auth login`; `--hub_token` is refused (on a command line every
user of the machine sees it in `ps`, and args files get shared). Every bad argument is one line, exit 2.

Arguments are `ModelArguments`, `DataArguments` (rs_retrieval.training.arguments) and the transformers
`TrainingArguments`. The processor built here is the one saved with every checkpoint, so evaluation and
serving preprocess exactly as training did. With N processes the contrastive loss sees the global batch.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import transformers
from transformers import HfArgumentParser, TrainingArguments, set_seed

from rs_retrieval.checkpoints import CheckpointError, check_checkpoint_folder, looks_like_local_path
from rs_retrieval.command_line import OneLineErrors
from rs_retrieval.data.loading import load_dataset_dict
from rs_retrieval.errors import UsageError, command
from rs_retrieval.split_evaluation import query_sets_for
from rs_retrieval.training import (
    ClampLogitScaleCallback,
    DataArguments,
    DualEncoderTrainer,
    EpochCallback,
    ModelArguments,
    RetrievalCollator,
)
from rs_retrieval.training.recipe import (
    EVAL_SPLIT_FIX,
    RECIPE_DEFAULTS,
    build_model_and_processor,
    final_eval_metrics,
    freeze_towers,
    select_split,
    write_training_recipe,
)

logger = logging.getLogger("rs_retrieval.train")

class _ArgumentParser(OneLineErrors, HfArgumentParser):
    """`HfArgumentParser` whose errors are one `UsageError` line."""


#: Arguments that hold a secret: refused on the command line (visible in `ps`) and in args files (which get shared).
SECRET_ARGUMENTS = ("hub_token",)
ARGS_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def parse_arguments(argv: list[str] | None) -> tuple[ModelArguments, DataArguments, TrainingArguments]:
    """Command line or one YAML/JSON file, over `RECIPE_DEFAULTS`; every mistake is a `UsageError`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _ArgumentParser((ModelArguments, DataArguments, TrainingArguments))
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


def check_sources(model_args: ModelArguments, training_args: TrainingArguments) -> None:
    """Fail before any data is built: paths that do not exist, pickle-only checkpoints, an output 'folder' that is a
    file."""
    output = Path(training_args.output_dir)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output_dir {output}: is a file, not a folder")
    for flag in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        if getattr(training_args, flag) < 1:
            raise UsageError(f"--{flag} {getattr(training_args, flag)}: must be a positive number")
    for flag, source in (("--model_name_or_path", model_args.model_name_or_path),
                         ("--vision_model", model_args.vision_model), ("--text_model", model_args.text_model),
                         ("--resume_from_checkpoint", training_args.resume_from_checkpoint)):
        if source:
            _check_checkpoint_argument(flag, source)
    for flag, source in (("--config", model_args.config), ("--tokenizer", model_args.tokenizer)):
        if source and looks_like_local_path(source) and not Path(source).expanduser().exists():
            raise UsageError(f"{flag} {source}: no such file or folder")


def _check_checkpoint_argument(flag: str, source: str) -> None:
    try:
        check_checkpoint_folder(source)
    except CheckpointError as error:
        problem = UsageError if not Path(source).expanduser().exists() else CheckpointError
        raise problem(f"{flag} {error}") from error


@command("rs-retrieval train")
def main(argv: list[str] | None = None) -> int:
    model_args, data_args, training_args = parse_arguments(argv)
    check_sources(model_args, training_args)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    set_seed(training_args.seed)
    languages = data_args.language_list()

    dataset_dict = load_dataset_dict(
        data_args.dataset,
        synthetic_splits={"train": data_args.synthetic_train_per_scene, "validation": 4, "test": 8},
        synthetic_image_size=data_args.synthetic_image_size,
        synthetic_seed=data_args.synthetic_seed,
    )
    train_dataset = select_split(dataset_dict, data_args.train_split, languages, data_args.max_train_images,
                                 training_args.seed)
    eval_dataset = None
    if training_args.eval_strategy != "no":
        eval_dataset = select_split(dataset_dict, data_args.eval_split, languages, data_args.max_eval_images,
                                    training_args.seed, flag="--eval_split", fix=EVAL_SPLIT_FIX)

    model, processor = build_model_and_processor(model_args)
    freeze_towers(model, model_args)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("model: %.2fM parameters (%.2fM trainable); languages %s; %d train images",
                sum(p.numel() for p in model.parameters()) / 1e6, trainable / 1e6, languages, len(train_dataset))

    query_sets = query_sets_for(languages)
    collator = RetrievalCollator(processor, languages, augment=data_args.augment, seed=training_args.seed)
    trainer = DualEncoderTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=collator,
        processing_class=processor,
        callbacks=[ClampLogitScaleCallback(), EpochCallback(collator)],
        eval_query_sets=query_sets,
        tower_learning_rates={"vision_model": model_args.vision_learning_rate,
                              "text_model": model_args.text_learning_rate},
    )
    write_training_recipe(trainer, model_args, data_args, languages, len(train_dataset))
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    write_training_recipe(trainer, model_args, data_args, languages, len(train_dataset))
    trainer.save_model()  # also pushes, with our model card, when --push_to_hub
    trainer.save_state()
    metrics = dict(result.metrics)
    if eval_dataset is not None:
        metrics.update(final_eval_metrics(trainer))
    trainer.log_metrics("final", metrics)
    trainer.save_metrics("all", metrics)
    if not math.isfinite(metrics.get("train_loss", 0.0)):
        logger.error("training diverged (train_loss=%s)", metrics.get("train_loss"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
