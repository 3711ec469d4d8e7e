"""`DualEncoderTrainer`: the transformers Trainer, evaluated by retrieval recall over a whole split."""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
from pathlib import Path
from typing import Any

from transformers import Trainer

from ..checkpoints import check_checkpoint_folder
from ..evaluation import evaluate_retrieval, flatten_report, nest_report
from ..inference import unwrap
from .distributed import global_batch_loss, world_size
from .locked_towers import lock_towers_in_eval_mode


class UnsavedSecret(str):
    """A token that works as a string in this process but is never written: pickling (the `torch.save` of the
    training arguments into `training_args.bin`, beside every checkpoint and in every Trainer push) stores None.
    Copies stay the same secret, so the run itself still pushes with it."""

    def __reduce__(self) -> tuple:
        return (type(None), ())

    def __copy__(self) -> UnsavedSecret:
        return self

    def __deepcopy__(self, memo: dict) -> UnsavedSecret:
        return self


def hide_secrets(args: Any) -> None:
    """Make every token-like field of `args` (a name ending in `_token`, as transformers redacts) unsaveable."""
    for field in dataclasses.fields(args):
        value = getattr(args, field.name, None)
        if field.name.endswith("_token") and isinstance(value, str) and not isinstance(value, UnsavedSecret):
            setattr(args, field.name, UnsavedSecret(value))


#: Files the Trainer's pushes leave out of `output_dir` (its `ignore_patterns`, and the client's own).
_TRAINER_PUSH_IGNORES = ("_*", "checkpoint-*", ".git", ".cache")

#: Parameters never weight-decayed beyond the Trainer's biases and norms: the temperature and ViT-style learned
#: tokens and position tables (decaying them pulls them towards zero for no regularising benefit).
_NO_DECAY = ("logit_scale", "cls_token", "distillation_token", "mask_token", "position_embedding")


class DualEncoderTrainer(Trainer):
    """Trainer whose `evaluate` embeds every image and caption of the eval split and reports recall.

    Per-batch logits say little about retrieval over a gallery, so evaluation follows the standard protocol on
    the whole split: `eval_<set>_i2t_r1 ... eval_<set>_mr` for each query set, and `eval_mr`, the mean over
    the query sets, which `metric_for_best_model="mr"` uses to keep the best checkpoint.

    With several processes the contrastive loss covers the global batch (`training.distributed`), unless the
    arguments (`DualEncoderTrainingArguments`) say `gather_across_processes=False`.
    """

    #: `compute_loss` returns a mean over the batch, so the Trainer divides it by the gradient accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, eval_query_sets: dict[str, list[str]] | None = None,
                 eval_batch_size: int = 64, tower_learning_rates: dict[str, float | None] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        hide_secrets(self.args)
        self.eval_query_sets = eval_query_sets
        self.retrieval_eval_batch_size = eval_batch_size
        self.tower_learning_rates = {k: v for k, v in (tower_learning_rates or {}).items() if v is not None}

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """The model's own loss on its batch; over the global batch when several processes gather."""
        lock_towers_in_eval_mode(model)  # the Trainer has just set train mode; a locked tower runs as its cache did
        # Plain `TrainingArguments` (no such field) gather, as the field's default does.
        if world_size() == 1 or not getattr(self.args, "gather_across_processes", True):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = global_batch_loss(model, inputs)
        return (loss, outputs) if return_outputs else loss

    def create_optimizer(self, model: Any = None):
        """Parameter groups per tower, so a pretrained text tower and a vision tower trained from scratch (or the
        other way round) each get their own learning rate; `_NO_DECAY` parameters are never weight-decayed."""
        if self.optimizer is not None:
            return self.optimizer
        model = self.model if model is None else model
        decay_names = set(self.get_decay_parameter_names(model))
        groups: dict[tuple[str, bool], list] = {}
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            tower = next((t for t in self.tower_learning_rates if name.startswith(t) or f".{t}." in name), "rest")
            decay = name in decay_names and not any(part in name for part in _NO_DECAY)
            groups.setdefault((tower, decay), []).append(parameter)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        parameter_groups = [
            {"params": params, "weight_decay": self.args.weight_decay if decay else 0.0,
             "lr": self.tower_learning_rates.get(tower, self.args.learning_rate)}
            for (tower, decay), params in groups.items()
        ]
        self.optimizer = optimizer_cls(parameter_groups, **optimizer_kwargs)
        return self.optimizer

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("DualEncoderTrainer.evaluate needs an eval_dataset")
        metrics: dict[str, float] = {}
        if self.accelerator.is_main_process:
            results = evaluate_retrieval(unwrap(self.model), self.processing_class, dataset,
                                         query_sets=self.eval_query_sets, batch_size=self.retrieval_eval_batch_size)
            metrics = flatten_report(results, metric_key_prefix)
        metrics = self._share_metrics(metrics)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    # transformers' Trainer restores checkpoints with a raw `load_state_dict`, which skips the key conversions
    # `from_pretrained` applies (ViT and other towers are saved under their legacy names in v5) and, being
    # non-strict, silently keeps the current weights. Both paths below go through `from_pretrained` instead.

    def _load_weights_from(self, folder: str) -> None:
        model = unwrap(self.model)
        loaded = type(model).from_pretrained(folder, use_safetensors=True)
        model.load_state_dict(loaded.state_dict(), strict=True)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        if self.is_fsdp_enabled:
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            return
        check_checkpoint_folder(resume_from_checkpoint)  # safetensors only: a pickle-only folder is named, not loaded
        self._load_weights_from(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        best = self.state.best_model_checkpoint
        if best and os.path.isfile(os.path.join(best, "model.safetensors")) and not self.is_fsdp_enabled:
            self._load_weights_from(best)
        else:
            super()._load_best_model()

    def logged_eval_metrics(self) -> dict[str, float] | None:
        """The evaluation logged for the model training ended with (the best checkpoint's, or the last step's)."""
        step = self.state.global_step
        if self.args.load_best_model_at_end and self.state.best_model_checkpoint:
            step = int(self.state.best_model_checkpoint.rstrip("/").rsplit("-", 1)[-1])
        logged = [entry for entry in self.state.log_history if "eval_mr" in entry and entry.get("step") == step]
        return {k: v for k, v in logged[-1].items() if k.startswith("eval_")} if logged else None

    def _validation_report(self, recipe: dict[str, Any]) -> dict[str, Any] | None:
        """The logged evaluation in the shape `hub_scripts/evaluate.py` writes, for the model card."""
        metrics = self.logged_eval_metrics()
        if not metrics or not self.eval_query_sets:
            return None
        results = nest_report(metrics, "eval", self.eval_query_sets)
        return {"dataset": recipe.get("dataset"), "split": recipe.get("eval_split", "validation"),
                "images": len(self.eval_dataset) if self.eval_dataset is not None else None,
                "captions": "all of each image", "results": results}

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """Write our model card (the `model_card.md` template, validation recall in its model-index) instead of
        the Trainer's generic one, so `push_to_hub=True` publishes the same card as `push_model.py`."""
        if not self.is_world_process_zero():
            return
        from ..publishing.model_card import build_model_card, read_recipe

        output_dir = self.args.output_dir
        repo_id = getattr(self, "hub_model_id", None) or self.args.hub_model_id or Path(output_dir).name
        recipe = read_recipe(output_dir) or {}
        card = build_model_card(unwrap(self.model).config, repo_id=repo_id, checkpoint=output_dir,
                                recipe=recipe, report=self._validation_report(recipe))
        card.save(os.path.join(output_dir, "README.md"))

    def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
        """Save as the Trainer does, plus the run's training recipe into a checkpoint folder, so a card rendered
        from `checkpoint-N` (the best model) knows how its towers started."""
        super()._save(output_dir, state_dict)
        from ..publishing.model_card import RECIPE_FILE

        recipe = Path(self.args.output_dir) / RECIPE_FILE
        target = Path(output_dir or self.args.output_dir)
        if self.args.should_save and recipe.is_file() and target.resolve() != recipe.parent.resolve():
            shutil.copy(recipe, target / RECIPE_FILE)

    def _refuse_secrets_in_output(self, token: str | None = None, checkpoint_folder: str | None = None) -> None:
        """Before any push of `output_dir` (and of the checkpoint folder, for the `checkpoint` hub strategies): no
        published file may hold a token in use, nor be a link."""
        from ..publishing.secrets import published_files, refuse_secrets, tokens_in_use

        files = published_files(Path(self.args.output_dir), _TRAINER_PUSH_IGNORES)
        if checkpoint_folder and self.args.hub_strategy in ("checkpoint", "all_checkpoints"):
            files += published_files(Path(checkpoint_folder))
        refuse_secrets(files, tokens_in_use(token or self.args.hub_token))

    def push_to_hub(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_world_process_zero():
            self._refuse_secrets_in_output(kwargs.get("token"))
        return super().push_to_hub(*args, **kwargs)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        """The Trainer copies only config and weights from a checkpoint before pushing `output_dir`; our custom
        code files must travel too, or the pushed revision cannot be loaded with `trust_remote_code=True`."""
        if self.is_world_process_zero() and self.args.hub_strategy != "end":
            for code_file in glob.glob(os.path.join(checkpoint_folder, "*.py")):
                shutil.copy(code_file, self.args.output_dir)
            self._refuse_secrets_in_output(checkpoint_folder=checkpoint_folder)
        super()._push_from_checkpoint(checkpoint_folder)

    def _share_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Every process needs the same metrics (best-checkpoint bookkeeping runs everywhere)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return metrics
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        return dict(shared[0])


__all__ = ["DualEncoderTrainer", "UnsavedSecret", "hide_secrets"]
