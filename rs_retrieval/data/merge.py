"""Merge several caption datasets (UCM-captions, RSITMD, RSICD, any subset) into one `DatasetDict`.

The sources' own splits do not line up (and RSITMD re-uses RSICD scenes), so the merge re-splits all
images afresh, 80/20 train/test by default as in the method's qualitative study, keeping every group of
near-duplicate images (perceptual hash) inside one split so no scene leaks from train into test.
"""

from __future__ import annotations

from collections.abc import Sequence

from datasets import DatasetDict

from .assembly import TranslationFiles, finish_build, read_translation_files
from .karpathy import SourceSpec, prepare_source
from .report import BuildReport, DatasetBuildError
from .translation import Seq2SeqTranslator


def merge_sources(
    sources: Sequence[SourceSpec],
    *,
    translations: TranslationFiles | None = None,
    translator: Seq2SeqTranslator | None = None,
    languages: Sequence[str] = (),
    test_fraction: float = 0.2,
    val_fraction: float = 0.0,
    seed: int = 0,
    dedup_threshold: int | None = 4,
    strict: bool = False,
    label_key: str = "class",
    band_indices: Sequence[int] | None = None,
    progress: bool = True,
) -> tuple[DatasetDict, BuildReport]:
    """Read every source, attach translations, translate the rest once for all, dedup, and re-split.

    `translations` are shared by all sources and matched on the English sentence (a `sentid` is unique only
    within one source: give sentid-keyed files per source in `SourceSpec.translations`). `image_id` is
    renumbered 0..n-1; `source` and `filename` keep the provenance.
    """
    names = [spec.name for spec in sources]
    if not names:
        raise DatasetBuildError("merge needs at least one source")
    if len(set(names)) != len(names):
        raise DatasetBuildError(f"source names must be distinct, got {names}; name them explicitly")
    report = BuildReport(strict=strict, dedup_threshold=dedup_threshold)
    shared = read_translation_files(translations or {}, report)
    shared_sentids = len(sources) == 1
    for table in shared:
        if table.by_sentid and not shared_sentids:
            report.notes.append(
                f"{table.path}: {len(table.by_sentid)} sentid keys not used in a merge (sentids are per source); "
                "its lines are matched on the English sentence only"
            )
    records, declared = [], set()
    for spec in sources:
        parsed = prepare_source(
            spec,
            report=report,
            shared_tables=shared,
            shared_sentids=shared_sentids,
            label_key=label_key,
            band_indices=band_indices,
            compute_hash=dedup_threshold is not None,
            progress=progress,
        )
        records += parsed.records
        declared |= parsed.declared_splits
    requested = [*(translations or {}), *(code for spec in sources for code in spec.translations), *languages]
    if translator is not None:
        requested.append(translator.target_language)
    dataset = finish_build(
        records,
        report,
        declared_splits=declared,
        translator=translator,
        languages=requested,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        seed=seed,
        dedup_threshold=dedup_threshold,
    )
    return dataset, report


__all__ = ["merge_sources"]
