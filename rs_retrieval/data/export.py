"""Write a built dataset: `save_to_disk` + README.md (the card) + build_report.json, never half-replacing.

Everything is written into a fresh sibling folder first and only moved into place once complete, so a
failed build or an existing dataset without `overwrite=True` leaves what was there untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from datasets import DatasetDict
from huggingface_hub import DatasetCard

from .report import BuildReport

REPORT_FILE = "build_report.json"
CARD_FILE = "README.md"


def check_output_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse a file, or a non-empty folder unless `overwrite`; call before the (long) build."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: folder exists and is not empty; pass overwrite=True (--overwrite) to replace it")
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
    out = check_output_dir(out_dir, overwrite).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the dataset should get the usual permissions
    try:
        dataset.save_to_disk(str(staging))
        card.save(staging / CARD_FILE)
        (staging / REPORT_FILE).write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        for code, pairs in (model_translations or {}).items():
            lines = [json.dumps({"en": english, code: text}, ensure_ascii=False) for english, text in pairs.items()]
            (staging / f"translations_{code}.model.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


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


__all__ = ["CARD_FILE", "REPORT_FILE", "check_output_dir", "save_built_dataset"]
