"""Serve a local Hugging Face Hub (models and datasets) from a data folder, for tests and offline work.

    python hub_scripts/local_hub.py --data ./local_hub_data [--port 0] [--host 127.0.0.1] [--token-file FILE]

Writes need a token. Give it in the environment variable RS_RETRIEVAL_HUB_TOKEN or in a file (`--token-file`),
never on the command line, where every user of the machine can read it (`ps`); without one, a random token is
drawn and printed once, in the `export HF_TOKEN=...` line. Prints the URL and the `export` lines that point
`huggingface_hub`, `transformers` and `datasets` at the Hub (they read them at import time, so set them before
starting Python). Repos persist in `--data` across restarts. Stops on Ctrl-C or SIGTERM.

`--allow-anonymous-writes` lets any program on this machine create, change and delete repos: unsafe wherever
other users or untrusted programs run. Browsers are refused either way (Host and Origin checks).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from rs_retrieval.errors import UsageError, command
from rs_retrieval.local_hub import LocalHub, client_environment, shell_exports
from rs_retrieval.local_hub.doors import LOOPBACK_NAMES

TOKEN_VARIABLE = "RS_RETRIEVAL_HUB_TOKEN"
TOKEN_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rs-retrieval local-hub", description=__doc__.splitlines()[0])
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


def _supplied_token(args: argparse.Namespace) -> tuple[str | None, str]:
    """(token, shell expression that reads it) from --token-file or the environment; (None, "") when neither."""
    if args.token is not None:
        raise UsageError(f"--token puts the token on the command line, where every user of this machine can read it "
                         f"(ps); consider that token exposed, and give a new one in ${TOKEN_VARIABLE} or a file "
                         "named by --token-file")
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"Cannot read the token file {args.token_file}: {getattr(error, 'strerror', error)}") \
                from None
        if not token:
            raise UsageError(f"The token file {args.token_file} is empty")
        return token, f'"$(cat {shlex.quote(str(args.token_file.resolve()))})"'
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    return (token, f'"${TOKEN_VARIABLE}"') if token else (None, "")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in LOOPBACK_NAMES


def _hub(args: argparse.Namespace) -> tuple[LocalHub, str]:
    """The configured (not yet started) Hub and the shell expression of its token for the export lines."""
    if args.port < 0 or args.port > 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    token, expression = _supplied_token(args)
    if args.allow_anonymous_writes:
        if token is not None:
            raise UsageError(f"--allow-anonymous-writes and a token (${TOKEN_VARIABLE} or --token-file) contradict "
                             "each other: give one of them")
        if not _is_loopback(args.host):
            raise UsageError(f"--allow-anonymous-writes is refused on {args.host}, which other machines can reach: "
                             "use a loopback --host or a token")
    data = Path(args.data)
    if data.exists() and not data.is_dir():
        raise UsageError(f"--data {data} is a file, not a folder: give a folder (it is created if missing)")
    hub = LocalHub(data, host=args.host, port=args.port, token=token, allowed_hosts=args.allowed_host,
                   allow_anonymous_writes=args.allow_anonymous_writes)
    if hub.token is not None and token is None:
        expression = shlex.quote(hub.token)  # drawn here: this line is the only place it is ever shown
    return hub, expression


def _export_lines(url: str, token_expression: str) -> list[str]:
    """`export` lines for clients; the token appears as `token_expression`, once (empty tokens when anonymous)."""
    env = client_environment(url)
    if not token_expression:
        return shell_exports(env)  # empty token variables: a huggingface.co token is never sent here
    lines = shell_exports({name: value for name, value in env.items() if name not in TOKEN_NAMES})
    return [*lines, f"export HF_TOKEN={token_expression}", 'export HUGGING_FACE_HUB_TOKEN="$HF_TOKEN"']


def _serve(hub: LocalHub, data: str, token_expression: str) -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    hub.start()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    try:
        print(f"Local Hugging Face Hub serving {data} at {hub.url}", flush=True)
        if hub.token is None:
            print("WARNING: anonymous writes are allowed: any program on this machine can create, change and "
                  "delete repos.")
        print("Point clients at it (before starting Python):")
        for line in _export_lines(hub.url, token_expression):
            print(f"  {line}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    print("Local Hub stopped.", flush=True)


@command("rs-retrieval local-hub")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    hub, token_expression = _hub(args)
    _serve(hub, args.data, token_expression)
    return 0


if __name__ == "__main__":
    sys.exit(main())
