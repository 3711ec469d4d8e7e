"""Build a (bilingual) remote-sensing image-text dataset from Karpathy-style annotations and save it.

One source, its published splits kept (val -> validation):

    python hub_scripts/build_dataset.py --annotations dataset_ucm.json --images images/ \\
        --arabic captions_ar.jsonl --out outputs/ucm_bilingual

Several sources merged and re-split 80/20 by near-duplicate group (each SPEC is
ANNOTATIONS:IMAGES[:SOURCE[:TRANSLATIONS.jsonl]]; the optional file is that source's own, e.g. sentid-keyed):

    python hub_scripts/build_dataset.py --merge ucm.json:ucm_images:ucm rsitmd.json:rsitmd_images:rsitmd \\
        --arabic captions_ar.jsonl --out outputs/merged

Prints the build report, then writes the dataset (`save_to_disk`), README.md (the dataset card) and
build_report.json into --out. Bad rows (missing, unreadable or too large images, file names leading outside
--images, captions with no words) are reported and skipped, or stop the build under --strict. Exit status 2 for
a bad argument, 1 with one line for a fatal error (missing annotation file, a problem under --strict, an existing
non-empty --out without --overwrite); nothing already there is lost. Images above the pixel limit
(RS_RETRIEVAL_MAX_IMAGE_PIXELS, default 89,478,485) are refused before they are decoded.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import datasets

from rs_retrieval.command_line import ArgumentParser, positive_int
from rs_retrieval.data.cards import build_dataset_card
from rs_retrieval.data.export import check_output_dir, save_built_dataset
from rs_retrieval.data.karpathy import SourceSpec, build_karpathy_dataset
from rs_retrieval.data.merge import merge_sources
from rs_retrieval.data.records import SOURCE_LANGUAGE
from rs_retrieval.data.report import DatasetBuildError
from rs_retrieval.errors import UsageError, command

PROG = "rs-retrieval build-dataset"
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*")


def parse_source_spec(text: str, language: str) -> SourceSpec:
    """`ANNOTATIONS:IMAGES[:SOURCE[:TRANSLATIONS]]` -> `SourceSpec`."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 4 or not all(parts[:2]):
        raise UsageError(f"--merge {text!r}: expected ANNOTATIONS:IMAGES[:SOURCE[:TRANSLATIONS.jsonl]]")
    annotations, images = parts[0], parts[1]
    source = parts[2] if len(parts) > 2 and parts[2] else None
    translations = {language: parts[3]} if len(parts) > 3 and parts[3] else {}
    return SourceSpec(annotations, images, source, translations)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text}: a fraction must be in [0, 1)")
    return value


def _bands(text: str) -> list[int]:
    try:
        bands = [int(part) for part in text.split(",")]
    except ValueError:
        bands = []
    if len(bands) != 3 or min(bands) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three band positions R,G,B (0 or more), e.g. 3,2,1")
    return bands


def _target_language(text: str) -> str:
    if text == SOURCE_LANGUAGE or not _LANGUAGE_CODE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the target language must be a language code other than {SOURCE_LANGUAGE!r} "
            "(the language of the annotations' captions), e.g. ar"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs = parser.add_argument_group("inputs (either --annotations/--images or --merge)")
    inputs.add_argument("--annotations", help="Karpathy-style annotation JSON of one source")
    inputs.add_argument("--images", help="folder holding that source's image files")
    inputs.add_argument("--source", help="short source name (default: from the annotation file name)")
    inputs.add_argument("--merge", nargs="+", metavar="SPEC", help="ANNOTATIONS:IMAGES[:SOURCE[:TRANSLATIONS]] ...")
    captions = parser.add_argument_group("translations")
    captions.add_argument(
        "--arabic",
        "--translations",
        dest="translations",
        action="append",
        default=[],
        metavar="FILE.jsonl",
        help='JSONL of {"en": ..., "<lang>": ...} or {"sentid": ..., "<lang>": ...}; repeatable',
    )
    captions.add_argument(
        "--target-language", type=_target_language, default="ar", help="language code of the translations (default: ar)"
    )
    captions.add_argument(
        "--translate-model", metavar="NAME_OR_PATH", help="seq2seq model (MarianMT, NLLB) filling untranslated captions"
    )
    captions.add_argument("--translate-batch-size", type=positive_int, default=32)
    splits = parser.add_argument_group("splits")
    splits.add_argument("--val-fraction", type=_fraction, default=0.0, help="carve validation from train (default 0)")
    splits.add_argument("--test-fraction", type=_fraction, default=0.2, help="test share of a --merge re-split (0.2)")
    splits.add_argument(
        "--dedup-threshold",
        type=int,
        default=4,
        help="near-duplicate pHash Hamming distance (default 4; -1 = don't check); one source: reported only",
    )
    splits.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="stop at the first problem instead of skipping")
    parser.add_argument("--band-indices", type=_bands, help="R,G,B band positions for multi-band images")
    parser.add_argument("--license", default="other", help="license for the card metadata (default: other)")
    parser.add_argument("--pretty-name", help="title of the dataset card")
    parser.add_argument("--out", required=True, help="output folder (save_to_disk + README.md + build_report.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out once the build succeeded")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.merge and (args.annotations or args.images or args.source):
        parser.error("give either --merge or --annotations/--images/--source, not both")
    if not args.merge and not (args.annotations and args.images):
        parser.error("give --annotations and --images (one source) or --merge SPEC ... (several)")


def _check_out_spares_inputs(out: str, args: argparse.Namespace, specs: list[SourceSpec]) -> None:
    """--out is replaced as a whole: it may not be, or hold, one of the build's own inputs."""
    inputs = [args.annotations, args.images, *args.translations]
    for spec in specs:
        inputs += [spec.annotations, spec.images, *spec.translations.values()]
    target = Path(out).resolve()
    for path in filter(None, inputs):
        resolved = Path(path).resolve()
        if resolved == target or target in resolved.parents:
            raise UsageError(f"--out {out} holds an input of the build ({path}); choose another --out")


@command(PROG)
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    specs = [parse_source_spec(text, args.target_language) for text in args.merge or []]
    _check_out_spares_inputs(args.out, args, specs)
    if args.no_progress:
        datasets.disable_progress_bars()
    check_output_dir(args.out, args.overwrite)
    translator = _translator(args)
    translations = {args.target_language: args.translations} if args.translations else {}
    common = {
        "translations": translations,
        "translator": translator,
        "languages": [args.target_language] if translations or translator else [],
        "val_fraction": args.val_fraction,
        "seed": args.seed,
        "dedup_threshold": None if args.dedup_threshold < 0 else args.dedup_threshold,
        "strict": args.strict,
        "band_indices": args.band_indices,
        "progress": not args.no_progress,
    }
    if specs:
        dataset, report = merge_sources(specs, test_fraction=args.test_fraction, **common)
    else:
        dataset, report = build_karpathy_dataset(args.annotations, args.images, source=args.source, **common)
    print(report.format())
    card = build_dataset_card(dataset, report, license=args.license, pretty_name=args.pretty_name)
    model_translations = {translator.target_language: translator.cache} if translator else None
    out = save_built_dataset(
        dataset, args.out, card=card, report=report, model_translations=model_translations, overwrite=args.overwrite
    )
    print(f"Saved to {out} (load with datasets.load_from_disk; card in README.md)")
    return 0


def _translator(args: argparse.Namespace):
    if not args.translate_model:
        return None
    from rs_retrieval.data.translation import Seq2SeqTranslator

    try:
        return Seq2SeqTranslator(
            args.translate_model,
            target_language=args.target_language,
            batch_size=args.translate_batch_size,
            progress=not args.no_progress,
        )
    except (OSError, ValueError, KeyError) as error:  # transformers' ways of saying "no usable model here"
        raise DatasetBuildError(
            f"--translate-model {args.translate_model}: cannot load a seq2seq model and its tokenizer "
            f"({' '.join(str(error).split())[:300]}); give a Hub name or a folder saved with save_pretrained"
        ) from error


__all__ = ["build_parser", "main", "parse_source_spec"]


if __name__ == "__main__":
    sys.exit(main())
