"""Serve a local Hugging Face Hub (models and datasets) from a data folder, for tests and offline work.

    python hub_scripts/local_hub.py --data ./local_hub_data [--port 0] [--host 127.0.0.1] [--token hf_...]

Prints the URL and the `export` lines that point `huggingface_hub`, `transformers` and `datasets` at
it (they read them at import time, so set them before starting Python). Repos persist in `--data`
across restarts. Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from rs_retrieval.local_hub import LocalHub, client_environment, shell_exports


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="./local_hub_data", help="repos and files folder (default: ./local_hub_data)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument("--token", default=None, help="token required for writes and private reads (default: none)")
    return parser


def _export_lines(url: str, token: str | None) -> list[str]:
    lines = shell_exports(client_environment(url))
    if token is not None:
        # The user chose the token; keep it out of terminal logs anyway.
        lines = [line for line in lines if "TOKEN=" not in line] + ["export HF_TOKEN='<the value given to --token>'"]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    hub = LocalHub(args.data, host=args.host, port=args.port, token=args.token)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    hub.start()
    try:
        print(f"Local Hugging Face Hub serving {args.data} at {hub.url}", flush=True)
        print("Point clients at it (before starting Python):")
        for line in _export_lines(hub.url, args.token):
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
