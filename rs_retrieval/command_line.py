"""The argument pieces every command shares: a parser whose errors are one line, and checked argument types.

A bad value raises `UsageError` (or argparse's `ArgumentTypeError`, which the parser turns into one), so the
`command` wrapper of `rs_retrieval.errors` prints one line and exits 2 instead of a usage screen or a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .errors import UsageError


class OneLineErrors:
    """Mixin for argparse parsers: a bad argument raises `UsageError`, which `command` prints as one line (exit 2),
    instead of a usage screen (for train.py, 150 options) above the message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


class ArgumentParser(OneLineErrors, argparse.ArgumentParser):
    """`argparse.ArgumentParser` with one-line errors; its sub-command parsers are of the same class."""


def command_parser(name: str, description: str | None) -> ArgumentParser:
    """The parser of `rs-retrieval NAME`: one-line errors, and the script's docstring as its help, kept as written."""
    return ArgumentParser(prog=f"rs-retrieval {name}", description=description,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type` for an integer in [low, high] (no upper bound when `high` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low or (high is not None and value > high):
            limit = "a positive number" if (low, high) == (1, None) else (
                f"at least {low}" if high is None else f"between {low} and {high}")
            raise argparse.ArgumentTypeError(f"{value} must be {limit}")
        return value

    return parse


#: argparse type for counts and sizes: `0` or `-3` is a usage error, not a crash or an empty result.
positive_int = bounded_int(1)


def query_text(text: str) -> str:
    """argparse type for a text query: one with no letter or digit after normalisation (empty, only tashkeel,
    tatweel, invisible characters or punctuation) would return an arbitrary ranking, so it is refused."""
    from .processing.text_normalization import has_words

    if not has_words(text):
        raise argparse.ArgumentTypeError(f"{text!r} has no letter or digit once normalised (only diacritics, tatweel, "
                                         "invisible characters or punctuation); give words to search for")
    return text


def input_file(path: str, option: str) -> Path:
    """An existing file named by `option`; `UsageError` for a missing path or a folder."""
    resolved = Path(path)
    if not resolved.exists():
        raise UsageError(f"{option} {path}: no such file")
    if resolved.is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    return resolved


def output_file(path: str, option: str) -> Path:
    """A file `option` may write: not a folder, in a folder that exists or can be made."""
    resolved = Path(path)
    if resolved.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    parent = next((p for p in resolved.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is a file, not a folder")
    return resolved


__all__ = ["ArgumentParser", "OneLineErrors", "bounded_int", "command_parser", "input_file", "output_file",
           "positive_int", "query_text"]
