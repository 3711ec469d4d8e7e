"""Zero-shot scene labels for a folder or dataset split, from English and/or Arabic prompts.

    rs-retrieval classify --model CKPT --images DATASET --split test \
        --labels "airport,farmland,river,bridge,residential,forest,beach,parking lot,storage tanks,stadium" \
        --labels-ar "مطار,أراض زراعية,نهر,جسر,منطقة سكنية,غابة,شاطئ,موقف سيارات,خزانات تخزين,ملعب رياضي"
    rs-retrieval classify --model CKPT --images DIR --labels "airport,river" --json > predictions.json

Each label is written into a few templates per language ("an aerial photograph of {label}", "صورة جوية
{li_label}", ... see rs_retrieval/search/zero_shot.py) and the prompt vectors are averaged (prompt ensembling);
`--labels-ar` gives the same classes in Arabic, in the same order. Prints one line per image (predicted label,
score, true label) and, where the data has labels (`--label-column`, default `label` when present; a ClassLabel
or string column whose names match --labels), top-1 and top-5 accuracy per prompt language and for both together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rs_retrieval.command_line import command_parser, output_file, positive_int
from rs_retrieval.errors import command


def split_labels(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = command_parser("classify", __doc__)
    parser.add_argument("--model", required=True, help="checkpoint folder (or Hub id)")
    parser.add_argument("--images", required=True, help="folder of images, saved dataset folder, or 'synthetic'")
    parser.add_argument("--split", default=None, help="split of a saved DatasetDict")
    parser.add_argument("--labels", required=True, help="comma-separated class names (English)")
    parser.add_argument("--labels-ar", default=None, help="the same classes in Arabic, comma-separated, same order")
    parser.add_argument("--label-column", default=None,
                        help="ground-truth column of a dataset (default: 'label' when there is one)")
    parser.add_argument("--top", type=positive_int, default=5,
                        help="labels listed per image in the JSON (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--trust-remote-code", action="store_true", help="load with the checkpoint's own code")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--out", default=None, help="also write the JSON report to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    args = parser.parse_args(argv)
    args.label_list = split_labels(args.labels)
    args.arabic_list = split_labels(args.labels_ar)
    if not args.label_list:
        parser.error("--labels names no class")
    if args.arabic_list is not None and len(args.arabic_list) != len(args.label_list):
        parser.error(f"--labels-ar has {len(args.arabic_list)} names for {len(args.label_list)} --labels")
    from rs_retrieval.search.zero_shot import normalise_label

    if len({normalise_label(label) for label in args.label_list}) != len(args.label_list):
        parser.error("--labels repeats a name (case, spaces, '_' and '-' do not tell names apart)")
    return args


def print_report(report) -> None:
    has_truth = any(p.truth is not None for p in report.predictions)
    print(f"{'label':<18} {'score':>7}  " + (f"{'true':<18} " if has_truth else "") + "path")
    for prediction in report.predictions:
        truth = f"{prediction.truth or '-':<18} " if has_truth else ""
        print(f"{prediction.label:<18} {prediction.top[0][1]:>7.4f}  {truth}{prediction.path}")
    for failure in report.failures:
        print(f"skipped {failure.path or failure.key}: {failure.error}")
    if report.accuracy:
        chance = 100.0 / len(report.labels)
        print(f"\naccuracy over {next(iter(report.accuracy.values()))['images']} labelled images "
              f"({len(report.labels)} classes, chance top-1 {chance:.1f}%):")
        for name, numbers in report.accuracy.items():
            print(f"  prompts {name:<6} top-1 {numbers['top1']:6.2f}%   top-5 {numbers['top5']:6.2f}%")
        if report.unlabelled:
            print(f"  ({report.unlabelled} images of classes not in --labels are not counted)")


@command("rs-retrieval classify")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval.checkpoints import load_model, load_processor
    from rs_retrieval.search import DatasetGallery, open_gallery
    from rs_retrieval.search.zero_shot import ARABIC_TEMPLATES, ENGLISH_TEMPLATES, PromptSet, classify_gallery

    if args.out:
        output_file(args.out, "--out")
    prompt_sets = {"en": PromptSet("en", tuple(args.label_list), ENGLISH_TEMPLATES)}
    if args.arabic_list:
        prompt_sets["ar"] = PromptSet("ar", tuple(args.arabic_list), ARABIC_TEMPLATES)
    gallery = open_gallery(args.images, split=args.split)
    column = args.label_column
    if column is None and isinstance(gallery, DatasetGallery) and "label" in gallery.dataset.column_names:
        column = "label"
    model = load_model(args.model, trust_remote_code=args.trust_remote_code)
    processor = load_processor(args.model, trust_remote_code=args.trust_remote_code)
    report = classify_gallery(model, processor, gallery, prompt_sets, label_column=column, top=args.top,
                              batch_size=args.batch_size, progress=not args.no_progress)
    document = json.dumps({"model": args.model, "images": args.images, "split": args.split, **report.to_dict()},
                          ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(document, encoding="utf-8")
    if args.json:
        print(document)
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
