"""Push a trained checkpoint (weights, config, code, processor, model card) or a built dataset to the Hub.

A model push is one commit: either every file lands or none does, so a push cut off part-way leaves the repo as it
was, and re-running it uploads what is missing (LFS files already on the server are not sent again). Local
folders are only read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, ModelCard

from ..errors import UsageError
from ..json_files import read_json_object
from .hub_errors import PublishError, hub_errors
from .secrets import PICKLE_PATTERNS, published_files, refuse_secrets, stored_token, tokens_in_use

CARD_FILE = "README.md"
#: What a checkpoint folder holds that is not published: training state with no use for inference, pickles (which
#: can run code and may hold a token), other checkpoints, logs, hidden files and any old card.
NOT_PUBLISHED = ("optimizer.*", "scheduler.*", "scaler.*", "rng_state*", *PICKLE_PATTERNS, "checkpoint-*", "runs",
                 ".*", "_*", CARD_FILE)
NO_TOKEN = ("no Hub token was found: set HF_TOKEN to a token with write access, or run `hf auth login` "
            "(a token is never passed on the command line)")
DATA_DIR = "data"


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    repo_url: str
    commit_url: str | None
    files: tuple[str, ...]
    card_uploaded: bool


def check_repo_id(repo_id: str, repo_type: str = "model") -> None:
    """Raise `UsageError` for a repo id the Hub would refuse (`name` or `namespace/name`)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise UsageError(f"{repo_id!r} is not a valid {repo_type} repo id (use org/name with letters, digits, "
                         f"'-', '_' or '.'): {error}") from None


def checkpoint_files(folder: str | Path) -> list[Path]:
    """Files of a checkpoint to publish; raises `PublishError` naming what a loadable checkpoint lacks, or a link."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"checkpoint folder {folder} does not exist")
    files = published_files(folder, NOT_PUBLISHED)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise PublishError(f"{folder} has no config.json: not a saved checkpoint")
    config = read_json_object(config_path, what="a checkpoint config", fix="not a saved checkpoint",
                              error=PublishError)
    weights = [name for name in ("model.safetensors", "model.safetensors.index.json") if (folder / name).is_file()]
    if not weights:
        legacy = [p.name for p in folder.glob("*.bin")]
        hint = f" (found {', '.join(legacy)}: re-save with save_pretrained to get safetensors)" if legacy else ""
        raise PublishError(f"{folder} has no model.safetensors{hint}")
    auto_map = config.get("auto_map") or {}
    if not isinstance(auto_map, dict) or "AutoModel" not in auto_map:
        raise PublishError(f"{folder}/config.json has no auto_map.AutoModel: the checkpoint was saved without its "
                           "code (save it with rs_retrieval imported, which registers the Auto classes)")
    code_files = {reference.split(".")[0] + ".py" for reference in auto_map.values() if isinstance(reference, str)}
    missing = sorted(name for name in code_files if not (folder / name).is_file())
    if missing:
        raise PublishError(f"{folder} lacks the code its config points to: {', '.join(missing)}")
    if not (folder / "processor_config.json").is_file() and not (folder / "preprocessor_config.json").is_file():
        raise PublishError(f"{folder} has no processor files (processor_config.json): save the processor with it")
    return files


def _token(token: str | None) -> str:
    """The token a push sends: the one given, else HF_TOKEN or the `hf auth login` one; `PublishError` if none."""
    token = token if token is not None else stored_token()
    if not token:
        raise PublishError(NO_TOKEN)
    return token


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
    `overwrite_card`: a card edited on the Hub is not replaced by a regenerated one by accident. Nothing is sent
    when a file (or the card) holds a token in use.
    """
    folder = Path(folder)
    check_repo_id(repo_id)
    files = checkpoint_files(folder)
    card_text = str(card) if card is not None else None
    refuse_secrets(files, tokens_in_use(token), {CARD_FILE: card_text} if card_text else None)
    token = _token(token)
    api = HfApi(token=token)
    with hub_errors(repo_id, token, local=str(folder)):
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        repo_id = repo_url.repo_id
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
                      for path in files]
        upload_card = card_text is not None and (overwrite_card or not api.file_exists(repo_id, CARD_FILE,
                                                                                       revision=revision))
        if upload_card:
            operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=card_text.encode("utf-8")))
        commit = api.create_commit(repo_id, operations, commit_message=commit_message or f"Upload {folder.name}",
                                   revision=revision)
    return PushResult(repo_id, str(repo_url), commit.commit_url,
                      tuple(op.path_in_repo for op in operations), upload_card)


def _load_dataset_folder(folder: Path) -> Any:
    """The DatasetDict saved in `folder` (a lone Dataset becomes its `train` split); links are refused first."""
    from datasets import DatasetDict, load_from_disk

    if not folder.is_dir():
        raise PublishError(f"dataset folder {folder} does not exist")
    published_files(folder)
    try:
        dataset: Any = load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise PublishError(f"{folder} is not a dataset saved with save_to_disk ({error})") from None
    return dataset if isinstance(dataset, DatasetDict) else DatasetDict({"train": dataset})


def shard_size(max_shard_size: str | int | None) -> int:
    """Bytes per Parquet shard from '500MB'-style text (the datasets default when None); `UsageError` if bad."""
    from datasets import config
    from datasets.utils.py_utils import convert_file_size_to_int

    try:
        size = convert_file_size_to_int(max_shard_size or config.MAX_SHARD_SIZE)
    except (ValueError, TypeError):
        size = 0
    if size <= 0:
        raise UsageError(f"--max-shard-size {max_shard_size!r} is not a size: write it like 500MB or 2GB")
    return size


def _write_shards(dataset: Any, workdir: Path, max_bytes: int) -> tuple[dict[str, Path], Any]:
    """Parquet shards `data/{split}-{i:05d}-of-{n:05d}.parquet` (images embedded) and the DatasetInfo they make."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.table import embed_table_storage

    shards: dict[str, Path] = {}
    info = DatasetInfo(config_name="default", features=next(iter(dataset.values())).features, splits=SplitDict(),
                       download_size=0, dataset_size=0)
    for split, data in dataset.items():
        num_bytes = data.data.nbytes
        count = num_bytes // max_bytes + 1
        for index in range(count):
            shard = data.shard(num_shards=count, index=index, contiguous=True).with_format("arrow")
            shard = shard.map(embed_table_storage, batched=True, keep_in_memory=True)
            path_in_repo = f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"
            local = workdir / path_in_repo
            local.parent.mkdir(parents=True, exist_ok=True)
            shard.to_parquet(str(local))
            shards[path_in_repo] = local
            info.download_size += local.stat().st_size
        info.splits.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=len(data)))
        info.dataset_size += num_bytes
    info.size_in_bytes = info.download_size + info.dataset_size
    return shards, info


def _dataset_card(card: Any, info: Any, splits: list[str]) -> Any:
    """`card` with the `dataset_info` and `configs` metadata that make `load_dataset(repo_id)` find the shards."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    DatasetInfosDict({"default": info}).to_dataset_card_data(card.data)
    data_files = [{"split": split, "path": f"{DATA_DIR}/{split}-*"} for split in splits]
    MetadataConfigs({"default": {"data_files": data_files}}).to_dataset_card_data(card.data)
    return card


def _remote_card(api: HfApi, repo_id: str, revision: str | None) -> Any:
    from huggingface_hub import DatasetCard

    if not api.file_exists(repo_id, CARD_FILE, repo_type="dataset", revision=revision):
        return None
    path = api.hf_hub_download(repo_id, CARD_FILE, repo_type="dataset", revision=revision)
    return DatasetCard.load(path)


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

    One commit holds the Parquet shards, the card (ours, or the one already in the repo unless `overwrite_card`,
    with its `dataset_info`/`configs` metadata brought up to date) and the removal of older shards: a push cut
    off part-way leaves the repo as it was. Shards are written to a temporary folder; `folder` is only read.
    """
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    check_repo_id(repo_id, "dataset")
    max_bytes = shard_size(max_shard_size)
    dataset = _load_dataset_folder(folder)
    card_path = folder / CARD_FILE
    local_card = DatasetCard.load(card_path) if card_path.is_file() else None
    tokens = tokens_in_use(token)
    token = _token(token)
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="rs-retrieval-push-") as workdir:
        shards, info = _write_shards(dataset, Path(workdir), max_bytes)
        refuse_secrets(shards.values(), tokens, {CARD_FILE: str(local_card)} if local_card else None)
        with hub_errors(repo_id, token, local=str(folder)):
            repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            repo_id = repo_url.repo_id
            if revision and revision != "main":
                api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
            remote_card = None if overwrite_card and local_card else _remote_card(api, repo_id, revision)
            upload_card = local_card is not None and remote_card is None
            card = _dataset_card(local_card if upload_card else remote_card or DatasetCard(""), info, list(dataset))
            stale = [name for name in api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
                     if name.startswith(f"{DATA_DIR}/") and name not in shards]
            operations = [*(CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
                            for name, path in shards.items()),
                          CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode("utf-8")),
                          *(CommitOperationDelete(path_in_repo=name) for name in stale)]
            commit = api.create_commit(repo_id, operations, repo_type="dataset", revision=revision,
                                       commit_message=commit_message or f"Upload {folder.name}")
    return PushResult(repo_id, str(repo_url), commit.commit_url, tuple(dataset), upload_card)


__all__ = ["NOT_PUBLISHED", "PushResult", "check_repo_id", "checkpoint_files", "push_checkpoint", "push_dataset_folder",
           "shard_size"]
