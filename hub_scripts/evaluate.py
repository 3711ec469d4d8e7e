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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from rs_retrieval.command_line import ArgumentParser, positive_int
from rs_retrieval.data.loading import parse_languages
from rs_retrieval.errors import command
from rs_retrieval.evaluation import markdown_table


def code_version() -> dict[str, str | None]:
    import rs_retrieval

    commit = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(rs_retrieval.__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"rs_retrieval": rs_retrieval.__version__, "git_commit": commit}


def evaluate_checkpoint(model_path: str, dataset: str, split: str, languages: list[str] | None = None,
                        batch_size: int = 64, trust_remote_code: bool = False, progress: bool = True) -> dict[str, Any]:
    """Recall tables for one checkpoint; the returned dict is what `--out` writes."""
    from rs_retrieval.checkpoints import load_model_and_processor
    from rs_retrieval.data.loading import check_caption_languages, load_split
    from rs_retrieval.split_evaluation import caption_languages, evaluate_retrieval

    data = load_split(dataset, split)
    languages = check_caption_languages(data, caption_languages(data) if languages is None else languages)
    model, processor = load_model_and_processor(model_path, trust_remote_code=trust_remote_code)
    query_sets = {lang: [lang] for lang in languages}
    if len(languages) > 1:
        query_sets["+".join(languages)] = languages
    started = time.perf_counter()
    with torch.inference_mode():
        results = evaluate_retrieval(model, processor, data, query_sets=query_sets, batch_size=batch_size,
                                     progress=progress)
    return {
        "checkpoint": str(model_path),
        "dataset": dataset,
        "split": split,
        "images": len(data),
        "captions": {lang: sum(len(c or []) for c in data[f"captions_{lang}"]) for lang in languages},
        "results": results,
        "seconds": round(time.perf_counter() - started, 2),
        "code_version": code_version(),
    }


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
