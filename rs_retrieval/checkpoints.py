"""Load a checkpoint (local folder or Hub id) the one way every command does: safetensors only, clear errors.

Pickled weights (`pytorch_model.bin`) can run code when they are loaded, so no loader of this package reads them:
a folder that holds only pickles gets an error that names the file and says how to convert it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import RsRetrievalError, UsageError

SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "training_args.bin")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")


class CheckpointError(RsRetrievalError):
    """A checkpoint that cannot be loaded (missing, pickle-only, broken); the message names it and the cause."""


class CheckpointNotFoundError(CheckpointError, UsageError):
    """The named local checkpoint folder does not exist (a bad argument: exit code 2)."""


def looks_like_local_path(source: str | os.PathLike) -> bool:
    """A Hub id is `name` or `org/name`; anything else (absolute, `./`, `~`, deeper, or present on disk) is local."""
    text = str(source)
    return Path(text).expanduser().exists() or text.startswith((".", "/", "~")) or text.count("/") > 1


def check_checkpoint_folder(source: str | os.PathLike) -> None:
    """Raise `CheckpointError` for a local checkpoint folder that is missing or holds only pickled weights."""
    if not looks_like_local_path(source):
        return  # a Hub id: `use_safetensors=True` makes the download refuse pickles
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise CheckpointNotFoundError(f"{source}: no such checkpoint folder")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{source}: not a checkpoint folder (no config.json)")
    if any((folder / name).is_file() for name in SAFETENSORS_FILES):
        return
    pickles = [name for name in PICKLE_WEIGHTS if (folder / name).is_file()]
    if pickles:
        raise CheckpointError(
            f"{folder / pickles[0]}: pickled weights are not loaded (they can run code). Convert them once in a "
            "trusted environment: AutoModel.from_pretrained(folder, use_safetensors=False).save_pretrained(folder)")
    raise CheckpointError(f"{source}: no model.safetensors in the checkpoint folder")


def load_model(source: str | os.PathLike, *, trust_remote_code: bool = False, eval_mode: bool = True,
               **kwargs: Any) -> Any:
    """`AutoModel.from_pretrained` with safetensors only; user-caused failures become `CheckpointError`."""
    from transformers import AutoModel

    check_checkpoint_folder(source)
    try:
        model = AutoModel.from_pretrained(str(source), trust_remote_code=trust_remote_code, use_safetensors=True,
                                          **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"cannot load the model {source}: {' '.join(str(error).split())}") from error
    return model.eval() if eval_mode else model


def load_processor(source: str | os.PathLike, *, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """`AutoProcessor.from_pretrained` with the same checks and errors as `load_model`."""
    from transformers import AutoProcessor

    check_checkpoint_folder(source)
    try:
        return AutoProcessor.from_pretrained(str(source), trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"cannot load the processor of {source}: {' '.join(str(error).split())}") from error


def load_model_and_processor(source: str | os.PathLike, *, trust_remote_code: bool = False) -> tuple[Any, Any]:
    return (load_model(source, trust_remote_code=trust_remote_code),
            load_processor(source, trust_remote_code=trust_remote_code))


__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "PICKLE_FILES",
    "check_checkpoint_folder",
    "load_model",
    "load_model_and_processor",
    "load_processor",
    "looks_like_local_path",
]
