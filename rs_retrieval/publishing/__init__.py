"""Publishing to the Hugging Face Hub: model cards with results, one-commit checkpoint and dataset pushes that
refuse links and never publish a token or a pickle."""

from .hub_errors import PublishError
from .model_card import build_model_card, check_report, eval_results_from_report, read_recipe, results_from_card
from .push import PushResult, check_repo_id, checkpoint_files, push_checkpoint, push_dataset_folder, shard_size
from .secrets import published_files, refuse_secrets, tokens_in_use

__all__ = ["PublishError", "PushResult", "build_model_card", "check_repo_id", "check_report", "checkpoint_files",
           "eval_results_from_report", "published_files", "push_checkpoint", "push_dataset_folder", "read_recipe",
           "refuse_secrets", "results_from_card", "shard_size", "tokens_in_use"]
