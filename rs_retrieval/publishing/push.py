"""Push a trained checkpoint (weights, config, code, processor, model card) or a built dataset to the Hub.

A model push is one commit: either every file lands or none does, so a push cut off part-way leaves the repo as it
was, and re-running it uploads what is missing (LFS files already on the server are not sent again). Local
folders are only read.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi, ModelCard
from huggingface_hub.utils import get_token

from .hub_errors import PublishError, hub_errors

CARD_FILE = "README.md"
#: Training state the Trainer keeps in a checkpoint that has no use for inference (and may be large).
NOT_PUBLISHED = ("optimizer.pt", "optimizer.bin", "scheduler.pt", "scaler.pt", "rng_state*.pth", "checkpoint-*",
                 "runs", ".*", "_*", CARD_FILE)


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    repo_url: str
    commit_url: str | None
    files: tuple[str, ...]
    card_uploaded: bool


def checkpoint_files(folder: str | Path) -> list[Path]:
    """Files of a checkpoint to publish; raises `PublishError` naming what a loadable checkpoint lacks."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"checkpoint folder {folder} does not exist")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise PublishError(f"{folder} has no config.json: not a saved checkpoint")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    weights = [name for name in ("model.safetensors", "model.safetensors.index.json") if (folder / name).is_file()]
    if not weights:
        legacy = [p.name for p in folder.glob("*.bin")]
        hint = f" (found {', '.join(legacy)}: re-save with save_pretrained to get safetensors)" if legacy else ""
        raise PublishError(f"{folder} has no model.safetensors{hint}")
    auto_map = config.get("auto_map") or {}
    if "AutoModel" not in auto_map:
        raise PublishError(f"{folder}/config.json has no auto_map.AutoModel: the checkpoint was saved without its "
                           "code (save it with rs_retrieval imported, which registers the Auto classes)")
    code_files = {reference.split(".")[0] + ".py" for reference in auto_map.values() if isinstance(reference, str)}
    missing = sorted(name for name in code_files if not (folder / name).is_file())
    if missing:
        raise PublishError(f"{folder} lacks the code its config points to: {', '.join(missing)}")
    if not (folder / "processor_config.json").is_file() and not (folder / "preprocessor_config.json").is_file():
        raise PublishError(f"{folder} has no processor files (processor_config.json): save the processor with it")
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and not any(fnmatch.fnmatch(part, pattern)
                                      for part in path.relative_to(folder).parts for pattern in NOT_PUBLISHED)
    )


def _token(token: str | None) -> str | None:
    return token if token is not None else get_token()


def push_checkpoint(
    folder: str | Path,
    repo_id: str,
    *,
    card: ModelCard | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    overwrite_card: bool = False,
    token: str | None = None,
) -> PushResult:
    """Publish `folder` to the model repo `repo_id` in one commit, with `card` as README.md.

    The repo (and the branch `revision`) is created when missing. A README.md already in the repo is kept unless
    `overwrite_card`: a card edited on the Hub is not replaced by a regenerated one by accident.
    """
    folder = Path(folder)
    files = checkpoint_files(folder)
    token = _token(token)
    api = HfApi(token=token)
    with hub_errors(repo_id, token, local=str(folder)):
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        repo_id = repo_url.repo_id
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
                      for path in files]
        upload_card = card is not None and (overwrite_card or not api.file_exists(repo_id, CARD_FILE,
                                                                                  revision=revision))
        if upload_card:
            operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode("utf-8")))
        commit = api.create_commit(repo_id, operations, commit_message=commit_message or f"Upload {folder.name}",
                                   revision=revision)
    return PushResult(repo_id, str(repo_url), commit.commit_url,
                      tuple(op.path_in_repo for op in operations), upload_card)


def push_dataset_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    overwrite_card: bool = False,
    max_shard_size: str | None = None,
    token: str | None = None,
) -> PushResult:
    """Publish a DatasetDict saved by `build_dataset.py` (with its README.md card) to the dataset repo `repo_id`.

    The card goes first; `DatasetDict.push_to_hub` then adds its `dataset_info`/`configs` metadata to that card's
    YAML and keeps the text, so the Hub page shows our card and `load_dataset(repo_id)` finds every split.
    """
    from datasets import DatasetDict, load_from_disk
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"dataset folder {folder} does not exist")
    try:
        dataset: Any = load_from_disk(str(folder))
    except FileNotFoundError as error:
        raise PublishError(f"{folder} is not a dataset saved with save_to_disk ({error})") from None
    if not isinstance(dataset, DatasetDict):
        dataset = DatasetDict({"train": dataset})
    card_path = folder / CARD_FILE
    card = DatasetCard.load(card_path) if card_path.is_file() else None
    token = _token(token)
    api = HfApi(token=token)
    with hub_errors(repo_id, token, local=str(folder)):
        repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        repo_id = repo_url.repo_id
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        upload_card = card is not None and (overwrite_card or not api.file_exists(
            repo_id, CARD_FILE, repo_type="dataset", revision=revision))
        if upload_card:
            api.upload_file(path_or_fileobj=str(card).encode("utf-8"), path_in_repo=CARD_FILE, repo_id=repo_id,
                            repo_type="dataset", revision=revision, commit_message="Add dataset card")
        commit = dataset.push_to_hub(repo_id, private=private, token=token, revision=revision,
                                     commit_message=commit_message, max_shard_size=max_shard_size)
    return PushResult(repo_id, str(repo_url), getattr(commit, "commit_url", None), tuple(dataset), upload_card)


__all__ = ["NOT_PUBLISHED", "PushResult", "checkpoint_files", "push_checkpoint", "push_dataset_folder"]
