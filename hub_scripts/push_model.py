"""Push a trained checkpoint to a Hub model repo, with its code, processor and a model card with results.

    python hub_scripts/push_model.py --checkpoint outputs/demo/checkpoint --repo-id org/rs-retrieval-demo \
        [--results outputs/demo/results.json] [--dataset-id org/dataset] [--license apache-2.0] \
        [--base-model intfloat/multilingual-e5-small] [--private] [--revision BRANCH] [--overwrite-card]

The token comes from HF_TOKEN or `hf auth login` (never pass it on a command line others can read). The card is
rendered from `model_card.md`; its `model-index` holds the numbers of the `--results` JSON that
`hub_scripts/evaluate.py` wrote. `--card-only` prints the card instead of pushing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a folder saved by train.py (or save_pretrained)")
    parser.add_argument("--repo-id", required=True, help="org/name of the model repo (created when missing)")
    parser.add_argument("--results", default=None, help="evaluation JSON from hub_scripts/evaluate.py")
    parser.add_argument("--dataset-id", default=None, help="Hub id of the dataset the results are on")
    parser.add_argument("--license", default="apache-2.0")
    parser.add_argument("--base-model", action="append", default=[], help="Hub id a tower started from (repeat)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", default=None, help="branch to push to (created when missing)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--overwrite-card", action="store_true", help="replace a README.md already in the repo")
    parser.add_argument("--card-only", action="store_true", help="print the model card and push nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval import DualEncoderConfig
    from rs_retrieval.publishing import PublishError, build_model_card, checkpoint_files, push_checkpoint, read_recipe

    try:
        checkpoint_files(args.checkpoint)
        report = None
        if args.results:
            path = Path(args.results)
            if not path.is_file():
                raise PublishError(f"results file {path} does not exist")
            report = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(report.get("results"), dict):
                raise PublishError(f"{path} has no 'results' table: write it with hub_scripts/evaluate.py --out")
        card = build_model_card(
            DualEncoderConfig.from_pretrained(args.checkpoint), repo_id=args.repo_id, checkpoint=args.checkpoint,
            recipe=read_recipe(args.checkpoint), report=report, dataset_id=args.dataset_id, license=args.license,
            base_models=args.base_model,
        )
        if args.card_only:
            print(card)
            return 0
        result = push_checkpoint(args.checkpoint, args.repo_id, card=card, private=args.private or None,
                                 revision=args.revision, commit_message=args.commit_message,
                                 overwrite_card=args.overwrite_card)
    except PublishError as error:
        print(f"push-model: {error}", file=sys.stderr)
        return 1
    card_note = "model card written" if result.card_uploaded else "existing README.md kept (--overwrite-card)"
    print(f"pushed {len(result.files)} files to {result.repo_url} ({card_note})")
    if result.commit_url:
        print(f"commit: {result.commit_url}")
    print(f'load it: AutoModel.from_pretrained("{result.repo_id}", trust_remote_code=True)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
