"""Write a built dataset: `save_to_disk` + README.md (the card) + build_report.json, never half-replacing.

Everything is written into a fresh sibling folder first and only moved into place once complete, so a
failed build or an existing dataset without `overwrite=True` leaves what was there untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from datasets import DatasetDict
from huggingface_hub import DatasetCard

from .report import BuildReport, DatasetBuildError

REPORT_FILE = "build_report.json"
CARD_FILE = "README.md"


def check_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse a file, a non-empty folder unless `overwrite`, or a place that cannot be created; call before the
    (long) build, so it fails in a second rather than after it."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: folder exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    ancestor = _nearest_existing(out.absolute().parent)
    if not ancestor.is_dir():
        raise DatasetBuildError(f"{out}: cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DatasetBuildError(f"{out}: cannot be created: no permission to write in {ancestor}")
    return out


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_folder(out_dir: str | os.PathLike, write: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Run `write(folder)` into a fresh sibling of `out_dir`, then move it into place: a failure leaves nothing
    behind, and an existing `out_dir` (replaced only with `overwrite`) is removed only once the new one is there."""
    out = check_output_dir(out_dir, overwrite).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the dataset should get the usual permissions
    try:
        write(staging)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def save_built_dataset(
    dataset: DatasetDict,
    out_dir: str | os.PathLike,
    *,
    card: DatasetCard,
    report: BuildReport,
    model_translations: Mapping[str, Mapping[str, str]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save dataset, card and report (and model translations as reusable `{"en", code}` JSONL) into `out_dir`."""

    def write(folder: Path) -> None:
        dataset.save_to_disk(str(folder))
        card.save(folder / CARD_FILE)
        (folder / REPORT_FILE).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        for code, pairs in (model_translations or {}).items():
            lines = [json.dumps({"en": english, code: text}, ensure_ascii=False) for english, text in pairs.items()]
            (folder / f"translations_{code}.model.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    return write_folder(out_dir, write, overwrite=overwrite)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(staging: Path, out: Path) -> None:
    """Move the finished folder into place; an old one is set aside first and only deleted afterwards."""
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["CARD_FILE", "REPORT_FILE", "check_output_dir", "save_built_dataset", "write_folder"]
