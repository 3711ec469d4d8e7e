"""Which optional extra provides which module and serves which command, and the one-line message when one is missing.

`pyproject.toml`'s extras and these tables are kept in step by tests/test_packaging.py. A command run without its
extra prints `pip install "rs-retrieval[EXTRA]"` (through `rs_retrieval.errors.command`), naming the command's own
extra when it provides the module.
"""

from __future__ import annotations

import importlib.util

from .errors import RsRetrievalError


class MissingExtraError(RsRetrievalError):
    """An optional dependency is not installed; the message gives the `pip install` line."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the optional package {module!r}, which is not installed: "
                         f'pip install "rs-retrieval[{extra}]"')


#: The optional top-level modules each extra of pyproject.toml installs (tests/test_packaging.py keeps the two in step).
_DATA_MODULES = frozenset({"datasets", "pyarrow", "imagehash", "tifffile"})
MODULES_OF_EXTRA: dict[str, frozenset[str]] = {
    "data": _DATA_MODULES,
    "train": _DATA_MODULES | {"accelerate", "evaluate"},
    "viz": _DATA_MODULES | {"matplotlib", "sklearn", "arabic_reshaper", "bidi"},
    "index": _DATA_MODULES | {"faiss", "accelerate"},
}

#: The smallest extra that provides each optional top-level module.
EXTRA_OF_MODULE = {
    "datasets": "data", "pyarrow": "data", "imagehash": "data", "tifffile": "data",
    "accelerate": "train", "evaluate": "train",
    "matplotlib": "viz", "sklearn": "viz", "arabic_reshaper": "viz", "bidi": "viz",
    "faiss": "index",
}

#: The extra that serves each `rs-retrieval` command; commands not named here need only the core.
EXTRA_OF_COMMAND = {
    "build-dataset": "data", "make-synthetic": "data", "train-tokenizer": "data", "push-dataset": "data",
    "train": "train", "evaluate": "train",
    "visualize": "viz",
    "index": "index", "search": "index", "classify": "index",
    "demo": "all",
}


#: Optional modules every run of a command needs, checked before it starts: a long run does not fail at its end, and
#: accelerate, which only the transformers Trainer imports, is named (transformers would raise its own ImportError).
REQUIRED_MODULES_OF_COMMAND: dict[str, tuple[str, ...]] = {
    "train": ("datasets", "accelerate"),
    "index": ("pyarrow", "faiss", "accelerate"),
    "search": ("pyarrow", "faiss"),
}


def extra_for(module: str, purpose: str = "") -> str | None:
    """The extra to install for a missing optional `module`: the extra of the command named at the end of `purpose`
    (`rs-retrieval index`) when it provides the module, else the smallest extra that does; None if not optional."""
    if module not in EXTRA_OF_MODULE:
        return None
    command_extra = EXTRA_OF_COMMAND.get(purpose.split()[-1] if purpose.split() else "")
    if command_extra == "all" or module in MODULES_OF_EXTRA.get(command_extra or "", ()):
        return command_extra
    return EXTRA_OF_MODULE[module]


def missing_extra(error: ModuleNotFoundError, purpose: str) -> MissingExtraError | None:
    """The `MissingExtraError` for an optional module that failed to import, or None for any other module."""
    top = (error.name or "").split(".")[0]
    extra = extra_for(top, purpose)
    return None if extra is None else MissingExtraError(top, extra, purpose)


def missing_required_module(prog: str) -> MissingExtraError | None:
    """The `MissingExtraError` for the first module of `REQUIRED_MODULES_OF_COMMAND` that is not installed, if any."""
    for module in REQUIRED_MODULES_OF_COMMAND.get(prog.split()[-1] if prog.split() else "", ()):
        try:
            installed = importlib.util.find_spec(module) is not None
        except ValueError:  # imported already, without a __spec__
            installed = True
        if not installed:
            return MissingExtraError(module, extra_for(module, prog) or "all", prog)
    return None


__all__ = [
    "EXTRA_OF_COMMAND",
    "EXTRA_OF_MODULE",
    "MODULES_OF_EXTRA",
    "MissingExtraError",
    "REQUIRED_MODULES_OF_COMMAND",
    "extra_for",
    "missing_extra",
    "missing_required_module",
]
