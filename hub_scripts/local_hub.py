"""Serve a local Hugging Face Hub (models and datasets) from a data folder, for offline trials of publishing.

    python hub_scripts/local_hub.py --data ./local_hub_data [--port 0] [--host 127.0.0.1] [--token-file FILE]

Writes need a token. Give it in the environment variable RS_RETRIEVAL_HUB_TOKEN or in a file (`--token-file`),
never on the command line, where every user of the machine can read it (`ps`); without one, a random token is
drawn and printed once, in the `export HF_TOKEN=...` line. Prints the URL and the `export` lines that point
`huggingface_hub`, `transformers` and `datasets` at the Hub (they read them at import time, so set them before
starting Python). It serves the Hub routes that `push-model`, `push-dataset`, `train --push_to_hub` and loading
from the Hub use (`rs_retrieval.testing.local_hub`). Repos persist in `--data` across restarts. Stops on Ctrl-C or
SIGTERM.

`--allow-anonymous-writes` lets any program on this machine create repos and change their files: unsafe wherever
other users or untrusted programs run. Browsers are refused either way (Host and Origin checks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rs_retrieval.command_line import command_parser
from rs_retrieval.errors import command
from rs_retrieval.testing.local_hub.serving import TOKEN_VARIABLE, configure_hub, serve


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("local-hub", __doc__.splitlines()[0])
    parser.add_argument("--data", default="./local_hub_data", help="repos and files folder (default: ./local_hub_data)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument("--token-file", type=Path, default=None,
                        help=f"file holding the write token (default: ${TOKEN_VARIABLE}, else a random token)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="another host name clients may use to reach the Hub (repeatable)")
    parser.add_argument("--allow-anonymous-writes", action="store_true",
                        help="UNSAFE: let any local program write without a token (loopback addresses only)")
    parser.add_argument("--token", default=None, help=argparse.SUPPRESS)  # refused with an explanation
    return parser


@command("rs-retrieval local-hub")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    hub, token_expression = configure_hub(args.data, host=args.host, port=args.port, token_file=args.token_file,
                                          allowed_hosts=args.allowed_host,
                                          allow_anonymous_writes=args.allow_anonymous_writes,
                                          command_line_token=args.token)
    serve(hub, args.data, token_expression)
    return 0


if __name__ == "__main__":
    sys.exit(main())
