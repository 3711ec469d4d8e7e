"""Publishing to the Hugging Face Hub: model cards with results, one-commit checkpoint pushes, dataset pushes."""

from .hub_errors import PublishError
from .model_card import build_model_card, eval_results_from_report, read_recipe, results_from_card
from .push import PushResult, checkpoint_files, push_checkpoint, push_dataset_folder

__all__ = ["PublishError", "PushResult", "build_model_card", "checkpoint_files", "eval_results_from_report",
           "push_checkpoint", "push_dataset_folder", "read_recipe", "results_from_card"]
