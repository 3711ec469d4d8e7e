"""Run a local Hub for people: where its write token comes from, the `export` lines for clients, serving until stopped.

`rs-retrieval local-hub` parses its arguments and calls `configure_hub` and `serve`. A token is never taken on a
command line (every user of the machine reads it with `ps`): it comes from `RS_RETRIEVAL_HUB_TOKEN` or a file, or
is drawn at start and shown once.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import signal
import threading
from pathlib import Path
from types import FrameType

from ...errors import UsageError
from .access import LOOPBACK_NAMES
from .environment import client_environment
from .server import LocalHub

TOKEN_VARIABLE = "RS_RETRIEVAL_HUB_TOKEN"
TOKEN_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def supplied_token(token_file: Path | None, command_line_token: str | None = None) -> tuple[str | None, str]:
    """(token, shell expression that reads it) from --token-file or the environment; (None, "") when neither."""
    if command_line_token is not None:
        raise UsageError(f"--token puts the token on the command line, where every user of this machine can read it "
                         f"(ps); consider that token exposed, and give a new one in ${TOKEN_VARIABLE} or a file "
                         "named by --token-file")
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"Cannot read the token file {token_file}: {getattr(error, 'strerror', error)}") \
                from None
        if not token:
            raise UsageError(f"The token file {token_file} is empty")
        return token, f'"$(cat {shlex.quote(str(token_file.resolve()))})"'
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    return (token, f'"${TOKEN_VARIABLE}"') if token else (None, "")


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in LOOPBACK_NAMES


def configure_hub(data: str | Path, *, host: str = "127.0.0.1", port: int = 0, token_file: Path | None = None,
                  allowed_hosts: list[str] | tuple[str, ...] = (), allow_anonymous_writes: bool = False,
                  command_line_token: str | None = None) -> tuple[LocalHub, str]:
    """The configured (not yet started) Hub and the shell expression of its token for the export lines."""
    if port < 0 or port > 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {port}")
    token, expression = supplied_token(token_file, command_line_token)
    if allow_anonymous_writes:
        if token is not None:
            raise UsageError(f"--allow-anonymous-writes and a token (${TOKEN_VARIABLE} or --token-file) contradict "
                             "each other: give one of them")
        if not is_loopback(host):
            raise UsageError(f"--allow-anonymous-writes is refused on {host}, which other machines can reach: "
                             "use a loopback --host or a token")
    data = Path(data)
    if data.exists() and not data.is_dir():
        raise UsageError(f"--data {data} is a file, not a folder: give a folder (it is created if missing)")
    hub = LocalHub(data, host=host, port=port, token=token, allowed_hosts=list(allowed_hosts),
                   allow_anonymous_writes=allow_anonymous_writes)
    if hub.token is not None and token is None:
        expression = shlex.quote(hub.token)  # drawn here: this line is the only place it is ever shown
    return hub, expression


def export_lines(url: str, token_expression: str) -> list[str]:
    """`export` lines for a POSIX shell; the token appears as `token_expression`, once (empty tokens when anonymous).

    Without a token expression the token variables are exported empty, so a huggingface.co token is never sent here.
    """
    env = {name: value for name, value in client_environment(url).items()
           if not (token_expression and name in TOKEN_NAMES)}
    lines = [f"export {name}='{value}'" for name, value in env.items()]
    if not token_expression:
        return lines
    return [*lines, f"export HF_TOKEN={token_expression}", 'export HUGGING_FACE_HUB_TOKEN="$HF_TOKEN"']


def serve(hub: LocalHub, data: str | Path, token_expression: str) -> None:
    """Serve until Ctrl-C or SIGTERM, after printing the URL and the `export` lines for clients."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    hub.start()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    try:
        print(f"Local Hugging Face Hub serving {data} at {hub.url}", flush=True)
        if hub.token is None:
            print("WARNING: anonymous writes are allowed: any program on this machine can create repos and "
                  "change their files.")
        print("Point clients at it (before starting Python):")
        for line in export_lines(hub.url, token_expression):
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


__all__ = ["TOKEN_VARIABLE", "configure_hub", "export_lines", "is_loopback", "serve", "supplied_token"]
