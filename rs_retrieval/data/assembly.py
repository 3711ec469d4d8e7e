"""The steps after every source is read: translate, find near-duplicates, split, and convert to datasets.

Shared by the single-source build (splits as published) and the merge (a fresh grouped re-split), so both
report the same things in the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from datasets import DatasetDict

from .captions import TranslationTable, count_untranslated, read_translations
from .dedup import find_duplicate_groups, group_partition
from .records import SPLIT_ORDER, ImageRecord, record_languages, records_to_dataset_dict
from .report import BuildReport, DatasetBuildError
from .splits import holdout_groups
from .translation import Seq2SeqTranslator, translate_missing

# language code -> one JSONL path or several
TranslationFiles = Mapping[str, "str | os.PathLike | Sequence[str | os.PathLike]"]


def read_translation_files(files: TranslationFiles, report: BuildReport) -> list[TranslationTable]:
    """One table per (language, file), in the order given."""
    tables = []
    for language, paths in files.items():
        for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
            tables.append(read_translations(path, language, report))
    return tables


def finish_build(
    records: list[ImageRecord],
    report: BuildReport,
    *,
    declared_splits: Iterable[str],
    translator: Seq2SeqTranslator | None = None,
    languages: Sequence[str] = (),
    test_fraction: float | None = None,
    val_fraction: float = 0.0,
    seed: int = 0,
    dedup_threshold: int | None = 4,
) -> DatasetDict:
    """Fill translations, group near-duplicates, (re-)split and build the `DatasetDict`, reporting each step.

    `test_fraction=None` keeps the records' splits; a number re-splits everything into train/test by
    duplicate group. `val_fraction` carves validation from train only where no validation split exists.
    """
    if not records:
        raise DatasetBuildError("no usable images left to build a dataset from (see the problems reported)")
    if translator is not None:
        translate_missing(records, translator, report)
    codes = record_languages(records, languages)
    for record in records:
        for code in codes[1:]:
            record.translations(code)
    count_untranslated(records, codes, report)

    groups: list[list[int]] = []
    if dedup_threshold is not None:
        hashes = [record.phash for record in records]
        if any(code is None for code in hashes):
            raise ValueError("near-duplicate detection needs the images loaded with compute_hash=True")
        groups = find_duplicate_groups(hashes, dedup_threshold)

    if test_fraction is None:
        report.split_method = "as given by the annotations (val -> validation)"
    else:
        _resplit(records, groups, test_fraction, seed, report)
    _carve_validation(records, groups, val_fraction, seed, report)

    report.duplicate_groups = [[f"{records[i].key} [{records[i].split}]" for i in group] for group in groups]
    straddling = sum(len({records[i].split for i in group}) > 1 for group in groups)
    if straddling:
        report.notes.append(f"{straddling} near-duplicate group(s) span more than one split (published splits kept)")

    dataset = records_to_dataset_dict(records, codes)
    kept_declared = set(declared_splits) if test_fraction is None else set()
    report.notes += [
        f"split {name!r} is in the annotations but has no usable image left; it is not written"
        for name in SPLIT_ORDER
        if name in kept_declared and name not in dataset
    ]
    report.splits = {name: dataset[name].num_rows for name in dataset}
    report.captions = {
        code: sum(caption is not None for record in records for caption in record.captions.get(code, []))
        for code in codes
    }
    return dataset


def _resplit(
    records: list[ImageRecord], groups: list[list[int]], fraction: float, seed: int, report: BuildReport
) -> None:
    """Fresh train/test split by duplicate group; image ids renumbered 0..n-1 so they are unique across sources."""
    test = holdout_groups(group_partition(len(records), groups), fraction, seed)
    for index, record in enumerate(records):
        record.split = "test" if index in test else "train"
        record.image_id = index
    report.split_method = (
        f"re-split of all sources: {fraction:g} of images to test by duplicate group, seeded (seed={seed}); "
        "the annotations' splits are ignored; image_id renumbered 0..n-1 in source order"
    )


def _carve_validation(
    records: list[ImageRecord], groups: list[list[int]], fraction: float, seed: int, report: BuildReport
) -> None:
    if any(record.split == "validation" for record in records):
        report.validation = "given by the annotations (val)"
        if fraction > 0:
            report.notes.append(f"val_fraction={fraction:g} ignored: the annotations already have a val split")
        return
    if fraction <= 0:
        report.validation = "none carved (val_fraction is 0)"
        return
    train = {index for index, record in enumerate(records) if record.split == "train"}
    train_groups = [kept for group in groups if (kept := [i for i in group if i in train])]
    partition = [group for group in group_partition(len(records), train_groups) if group[0] in train]
    chosen = holdout_groups(partition, fraction, seed)
    for index in chosen:
        records[index].split = "validation"
    report.validation = (
        f"carved from train: {len(chosen)} images ({fraction:g} of {len(train)}), by image, seeded (seed={seed}), "
        "near-duplicate groups kept together"
    )


__all__ = ["TranslationFiles", "finish_build", "read_translation_files"]
