"""Who may knock: the Host and Origin checks that keep web pages out of a local Hub.

A page in the user's browser can send requests to `127.0.0.1`, and a DNS name that an attacker re-points at
`127.0.0.1` (DNS rebinding) even lets it read the answers. Both carry tell-tale headers: the browser names the
page's site in `Origin`, and a rebound name arrives in `Host`. So a request is served only when its `Host` is
an address of this server (its loopback names, the address it is bound to, and names allowed explicitly) and
its `Origin`, when present, is this server too. Hub clients (`huggingface_hub`, curl) send no `Origin`.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.message import Message

from .errors import Forbidden

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Doors:
    """The `host:port` names a request may address; `check` raises 403 for any other Host or Origin."""

    def __init__(self, host: str, port: int, allowed_hosts: Iterable[str] = ()) -> None:
        names = [*LOOPBACK_NAMES, *allowed_hosts]
        if host not in WILDCARD_ADDRESSES:
            names.append(host)
        self.hosts = frozenset(f"{_bracketed(name).lower()}:{port}" for name in names)

    def check(self, headers: Message) -> None:
        hosts = headers.get_all("Host") or []
        if len(hosts) > 1:
            raise Forbidden("The request has more than one Host header")
        if hosts and hosts[0].strip().lower() not in self.hosts:
            raise Forbidden(f"Host {hosts[0].strip()[:100]!r} is not an address of this local Hub (it answers "
                            f"{', '.join(sorted(self.hosts))}); a web page may be trying DNS rebinding. Allow another "
                            "name with --allowed-host")
        for origin in headers.get_all("Origin") or []:
            if not (origin.lower().startswith("http://") and origin.lower()[len("http://"):] in self.hosts):
                raise Forbidden(f"Requests from web pages of another origin ({origin.strip()[:100]!r}) are refused: "
                                "the local Hub is an API for Hub clients, not for browsers")
