"""Push a dataset built by `hub_scripts/build_dataset.py` (a saved DatasetDict with its card) to a Hub dataset repo.

    python hub_scripts/push_dataset.py --dataset outputs/ucm_bilingual --repo-id org/ucm-captions-en-ar \
        [--private] [--revision BRANCH] [--overwrite-card] [--max-shard-size 500MB]

Images are stored inside the Parquet shards, so `load_dataset("org/ucm-captions-en-ar")` gives back every split
with its images, captions and labels. The token comes from HF_TOKEN or `hf auth login`; there is no token option
(a command line is visible to every user of the machine in `ps`). The push is one commit (shards, card and the
removal of older shards): a failure leaves the remote repo unchanged. A symbolic link in the folder, or a shard or
card holding the token in use, stops the push. `--debug` shows the traceback of an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rs_retrieval.command_line import command_parser
from rs_retrieval.errors import command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = command_parser("push-dataset", __doc__)
    parser.add_argument("--dataset", required=True, help="folder written by build_dataset.py (save_to_disk + card)")
    parser.add_argument("--repo-id", required=True, help="org/name of the dataset repo (created when missing)")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", default=None, help="branch to push to (created when missing)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--overwrite-card", action="store_true", help="replace a README.md already in the repo")
    parser.add_argument("--max-shard-size", default=None, help="Parquet shard size, e.g. 500MB")
    return parser.parse_args(argv)


@command("rs-retrieval push-dataset")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rs_retrieval.errors import UsageError
    from rs_retrieval.publishing import check_repo_id, push_dataset_folder, shard_size

    if not Path(args.dataset).is_dir():
        raise UsageError(f"--dataset {args.dataset} does not exist (or is not a folder)")
    check_repo_id(args.repo_id, "dataset")
    shard_size(args.max_shard_size)
    result = push_dataset_folder(args.dataset, args.repo_id, private=args.private or None,
                                 revision=args.revision, commit_message=args.commit_message,
                                 overwrite_card=args.overwrite_card, max_shard_size=args.max_shard_size)
    card_note = "dataset card written" if result.card_uploaded else "card in the repo kept (--overwrite-card)"
    print(f"pushed splits {', '.join(result.files)} to {result.repo_url} ({card_note})")
    print(f'load it: datasets.load_dataset("{result.repo_id}")')
    return 0


if __name__ == "__main__":
    sys.exit(main())
