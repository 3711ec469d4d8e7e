"""Argument checks shared by `rs-retrieval index | search | classify`: a bad value is one line and exit 2."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import UsageError
from ..processing.text_normalization import has_words


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type` for an integer in [low, high] (no upper bound when `high` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            limit = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"{value} must be {limit}")
        return value

    return parse


positive_int = bounded_int(1)


def text_with_words(text: str) -> str:
    """An argparse `type` for a query: refused when nothing of it is left to match once normalised."""
    if not has_words(text):
        raise argparse.ArgumentTypeError(f"{text!r} has no letter or digit once normalised (only diacritics, "
                                         "tatweel, invisible characters or punctuation)")
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


def index_output_folder(path: str, manifest: str, parts: str) -> Path:
    """`--out` of `index`: a new or empty folder, or one that already holds an index (or its unfinished parts).

    Indexing deletes stale `build-*` folders in its output, so any other folder is refused: nothing of the user's
    is ever removed.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {path}: is a file, not an index folder")
    if folder.is_dir() and any(os.scandir(folder)) and not (folder / manifest).exists() \
            and not (folder / parts).is_dir():
        raise UsageError(f"--out {path}: a folder that holds other files and no index; give a new or empty folder")
    return folder


__all__ = ["bounded_int", "index_output_folder", "input_file", "output_file", "positive_int", "text_with_words"]
