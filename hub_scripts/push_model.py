"""Push a trained checkpoint to a Hub model repo, with its code, processor and a model card with results.

    python hub_scripts/push_model.py --checkpoint outputs/demo/checkpoint --repo-id org/rs-retrieval-demo \
        [--results outputs/demo/results.json] [--dataset-id org/dataset] [--license apache-2.0] \
        [--base-model intfloat/multilingual-e5-small] [--private] [--revision BRANCH] [--overwrite-card]

The token comes from HF_TOKEN or `hf auth login`; there is no token option (a command line is visible to every
user of the machine in `ps`). The push is one commit: a failure leaves the remote repo unchanged. Pickles
(training_args.bin, optimizer.pt, ...) are never published, a symbolic link in the folder stops the push, and so
does any file holding the token in use. The card is rendered from `model_card.md`; its `model-index` holds the
numbers of the `--results` JSON that `hub_scripts/evaluate.py` wrote. `--card-only` prints the card instead of
pushing. `--debug` shows the traceback of an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rs_retrieval.command_line import command_parser
from rs_retrieval.errors import command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = command_parser("push-model", __doc__)
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


def read_report(path: Path) -> dict:
    """The evaluation JSON at `path`, checked to hold a results table."""
    from rs_retrieval.errors import UsageError
    from rs_retrieval.json_files import read_json_object
    from rs_retrieval.publishing import PublishError, check_report

    if not path.is_file():
        raise UsageError(f"--results {path} does not exist")
    report = read_json_object(path, what="an evaluation report", fix="write it with `rs-retrieval evaluate --out`",
                              error=PublishError)
    return check_report(report, str(path))


@command("rs-retrieval push-model")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval import DualEncoderConfig
    from rs_retrieval.errors import UsageError
    from rs_retrieval.publishing import build_model_card, check_repo_id, checkpoint_files, push_checkpoint, read_recipe

    if not Path(args.checkpoint).is_dir():
        raise UsageError(f"--checkpoint {args.checkpoint} does not exist (or is not a folder)")
    check_repo_id(args.repo_id)
    checkpoint_files(args.checkpoint)
    report = read_report(Path(args.results)) if args.results else None
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
    card_note = "model card written" if result.card_uploaded else "existing README.md kept (--overwrite-card)"
    print(f"pushed {len(result.files)} files to {result.repo_url} ({card_note})")
    if result.commit_url:
        print(f"commit: {result.commit_url}")
    print(f'load it: AutoModel.from_pretrained("{result.repo_id}", trust_remote_code=True)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
