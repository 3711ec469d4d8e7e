"""Errors a user causes, and how every command reports them: one line that names the problem, no traceback.

Library code raises `RsRetrievalError` (or a subclass) for bad input, bad files and network faults; commands wrap
their `main` with `command(...)`, which prints `PROG: error: MESSAGE` and returns the error's exit code (2 for a bad
argument, 1 for a failure). `--debug` on the command line (or `RS_RETRIEVAL_DEBUG=1`) re-raises instead, for a
full traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable

from .processing.image_conversion import ImageConversionError

DEBUG_FLAG = "--debug"
DEBUG_ENVIRONMENT_VARIABLE = "RS_RETRIEVAL_DEBUG"


class RsRetrievalError(Exception):
    """A problem with the user's input, files or network, with a message that says what to do; exit code 1."""

    exit_code = 1


class UsageError(RsRetrievalError):
    """A bad command-line argument (a wrong value, a path that does not exist); exit code 2."""

    exit_code = 2


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


def describe(error: BaseException) -> str:
    """The one line printed for a user-caused error."""
    if isinstance(error, OSError) and error.strerror and not isinstance(error, RsRetrievalError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = " ".join(str(error).split()) or type(error).__name__
    return text


def exit_code_of(error: BaseException) -> int:
    return getattr(error, "exit_code", 1)


#: The errors a command turns into one line; `ImageConversionError` comes from the code shipped with checkpoints,
#: which cannot import this module. OSError covers missing, unreadable and full-disk files.
USER_ERRORS: tuple[type[BaseException], ...] = (RsRetrievalError, ImageConversionError, OSError)


def debug_requested(argv: list[str]) -> bool:
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENVIRONMENT_VARIABLE, "") not in ("", "0")


def command(prog: str) -> Callable[[Callable[[list[str] | None], int]], Callable[[list[str] | None], int]]:
    """Wrap a script's `main(argv)` so that user-caused errors print one line and return their exit code."""

    def wrap(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            arguments = list(sys.argv[1:] if argv is None else argv)
            debug = debug_requested(arguments)
            arguments = [a for a in arguments if a != DEBUG_FLAG]
            missing = None if {"-h", "--help"} & set(arguments) else missing_required_module(prog)
            if missing is not None:
                print(f"{prog}: error: {missing}", file=sys.stderr)
                return 1
            try:
                return int(main(arguments) or 0)
            except USER_ERRORS as error:
                if debug:
                    raise
                print(f"{prog}: error: {describe(error)}", file=sys.stderr)
                return exit_code_of(error)
            except ModuleNotFoundError as error:
                extra = missing_extra(error, prog)
                if extra is None or debug:
                    raise
                print(f"{prog}: error: {extra}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                if debug:
                    raise
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

        return run

    return wrap


__all__ = [
    "DEBUG_FLAG",
    "EXTRA_OF_COMMAND",
    "EXTRA_OF_MODULE",
    "MODULES_OF_EXTRA",
    "REQUIRED_MODULES_OF_COMMAND",
    "MissingExtraError",
    "RsRetrievalError",
    "USER_ERRORS",
    "UsageError",
    "command",
    "describe",
    "extra_for",
    "missing_extra",
    "missing_required_module",
]
