"""Train a dual encoder for English, Arabic or bilingual remote-sensing retrieval.

    python hub_scripts/train.py --output_dir out --languages en,ar --num_train_epochs 10
    accelerate launch hub_scripts/train.py ...          # or: torchrun --nproc_per_node N hub_scripts/train.py ...
    python hub_scripts/train.py args.yaml                # every argument from one YAML/JSON file
    python hub_scripts/train.py ... --push_to_hub --hub_model_id org/name [--hub_strategy every_save]

Pushing uses the token in HF_TOKEN or from `hf auth login`; `--hub_token` is refused (on a command line every
user of the machine sees it in `ps`, and args files get shared). Every bad argument is one line, exit 2.

Arguments are `ModelArguments`, `DataArguments` and `DualEncoderTrainingArguments` (rs_retrieval.training.arguments;
the transformers `TrainingArguments` plus `gather_across_processes`). The processor built here is the one saved with
every checkpoint, so evaluation and serving preprocess exactly as training did. With N processes the contrastive loss
sees the global batch (`--gather_across_processes false`: each process's own).
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import transformers
from transformers import TrainingArguments, set_seed

from rs_retrieval.checkpoints import CheckpointError, check_checkpoint_folder, looks_like_local_path
from rs_retrieval.data.loading import load_dataset_dict
from rs_retrieval.errors import UsageError, command
from rs_retrieval.evaluation import query_sets_for
from rs_retrieval.training import (
    ClampLogitScaleCallback,
    DualEncoderTrainer,
    EpochCallback,
    ModelArguments,
    RetrievalCollator,
)
from rs_retrieval.training.recipe import (
    EVAL_SPLIT_FIX,
    build_model_and_processor,
    final_eval_metrics,
    freeze_towers,
    locked_tower_caches,
    parse_arguments,
    select_split,
    write_training_recipe,
)

logger = logging.getLogger("rs_retrieval.train")

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
    caches = locked_tower_caches(model, processor, train_dataset, languages, model_args, data_args, training_args)
    collator = RetrievalCollator(processor, languages, augment=data_args.augment, seed=training_args.seed,
                                 text_cache=caches.get("text"), image_cache=caches.get("image"))
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
