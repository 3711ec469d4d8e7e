"""Evaluate a checkpoint on a dataset split with the standard image-text retrieval protocol.

    python hub_scripts/evaluate.py --model CHECKPOINT_OR_HUB_ID --dataset DATASET_DIR|synthetic --split test \
        [--languages en,ar] [--name "bilingual"] [--out results.json] [--markdown results.md]

Prints a table in the method's shape (one row per query language, plus the cross-lingual row where several
languages are present: i2t R@1/5/10, t2i R@1/5/10, mR) and writes the numbers as JSON with the dataset,
split, checkpoint and code version they came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rs_retrieval.command_line import ArgumentParser, positive_int
from rs_retrieval.data.loading import parse_languages
from rs_retrieval.errors import command
from rs_retrieval.evaluation import evaluate_checkpoint, markdown_table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint folder or Hub id")
    parser.add_argument("--dataset", required=True, help="a saved DatasetDict folder, or 'synthetic'")
    parser.add_argument("--split", default="test")
    parser.add_argument("--languages", default=None, help="query languages, e.g. en,ar (default: all caption columns)")
    parser.add_argument("--name", default=None, help="label of this model in the table (default: checkpoint name)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--trust-remote-code", action="store_true", help="load with the checkpoint's own code")
    parser.add_argument("--out", default=None, help="write the numbers here as JSON")
    parser.add_argument("--markdown", default=None, help="write the table here as markdown")
    return parser.parse_args(argv)


@command("rs-retrieval evaluate")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    languages = parse_languages(args.languages)
    report = evaluate_checkpoint(args.model, args.dataset, args.split, languages, args.batch_size,
                                 args.trust_remote_code)
    name = args.name or Path(args.model).name
    table = markdown_table([(f"{name} / {queries}", metrics) for queries, metrics in report["results"].items()],
                           first_column="model / queries")
    print(f"{report['dataset']} [{report['split']}]: {report['images']} images, captions {report['captions']}")
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({**report, "name": name}, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
