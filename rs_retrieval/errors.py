"""Errors a user causes, and how every command reports them: one line that names the problem, no traceback.

Library code raises `RsRetrievalError` (or a subclass) for bad input, bad files and network faults; commands wrap
their `main` with `command(...)`, which prints `PROG: error: MESSAGE` and returns the error's exit code (2 for a bad
argument, 1 for a failure). `--debug` on the command line (or `RS_RETRIEVAL_DEBUG=1`) re-raises instead, for a
full traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
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
            from .extras import missing_extra, missing_required_module

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
    "RsRetrievalError",
    "USER_ERRORS",
    "UsageError",
    "command",
    "describe",
]
