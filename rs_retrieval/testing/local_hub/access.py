"""Who may talk to a local Hub and what they may do: the Host and Origin doors, the write token, repo permissions.

Doors: a page in the user's browser can send requests to `127.0.0.1`, and a DNS name that an attacker re-points at
`127.0.0.1` (DNS rebinding) even lets it read the answers. Both carry tell-tale headers: the browser names the page's
site in `Origin`, and a rebound name arrives in `Host`. So a request is served only when its `Host` is an address of
this server (its loopback names, the address it is bound to, and names allowed explicitly) and its `Origin`, when
present, is this server too. Hub clients (`huggingface_hub`, curl) send no `Origin`.

Token: `LocalHub` always has one unless anonymous writes were explicitly allowed, in which case every request is
allowed (unsafe on a machine with other users). With a token, writes need `Authorization: Bearer <token>`, private
repos need it to be read, and a request that sends any other token is refused outright (401), as the Hub does with a
revoked token. It is compared in constant time and never repeated back.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from email.message import Message

from .errors import INVALID_CREDENTIALS, Forbidden, RepoNotFound, Unauthorized
from .messages import Request
from .storage import Repo, Storage

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
URL_PREFIX = {"model": "", "dataset": "datasets/"}


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


class Auth:
    """The server token (None: anonymous writes allowed) and the checks made against it."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    @staticmethod
    def _presented(headers: Mapping[str, str]) -> str | None:
        value = headers.get("Authorization") or headers.get("authorization")
        if not value:
            return None
        scheme, _, credential = value.partition(" ")
        return credential.strip() if scheme.lower() == "bearer" else value.strip()

    def is_authenticated(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries the server token (always true when the server has none).

        Raises Unauthorized when it carries a different token: a wrong token is an error, not anonymity.
        """
        if self._token is None:
            return True
        presented = self._presented(headers)
        if presented is None:
            return False
        if not hmac.compare_digest(presented.encode(), self._token.encode()):
            raise Unauthorized(INVALID_CREDENTIALS)
        return True

    def is_trusted(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries the server token; never raises (a wrong token is simply not trusted)."""
        try:
            return self.is_authenticated(headers)
        except Unauthorized:
            return False

    def require_write(self, headers: Mapping[str, str], action: str) -> None:
        """Refuse `action` (e.g. "create a repo") unless the request is authenticated."""
        if not self.is_authenticated(headers):
            raise Unauthorized(f"You must be authenticated to {action}: send 'Authorization: Bearer <token>' "
                               "with the local Hub's token (HF_TOKEN)")


def repo_url(r: Request, repo_type: str, repo_id: str) -> str:
    """The repo's web URL as the Hub writes it (`<endpoint>/[datasets/]namespace/name`), which `RepoUrl` parses."""
    return f"{r.base_url}/{URL_PREFIX[repo_type]}{repo_id}"


class RepoAccess:
    """Finds a repo for a request, or raises the error the Hub would (401 bad token, 404/401 RepoNotFound)."""

    def __init__(self, storage: Storage, auth: Auth) -> None:
        self.storage = storage
        self.auth = auth

    def readable(self, r: Request, repo_type: str, repo_id: str) -> Repo:
        """Private repos are invisible (401 RepoNotFound, like the Hub) to unauthenticated requests."""
        authenticated = self.auth.is_authenticated(r.headers)  # a wrong token is refused before the repo is looked up
        repo = self.storage.get_repo(repo_type, repo_id)
        if repo.private and not authenticated:
            raise RepoNotFound(f"Repository {repo_type}s/{repo_id} not found", status=401)
        return repo

    def writable(self, r: Request, repo_type: str, repo_id: str, action: str) -> Repo:
        self.auth.require_write(r.headers, f"{action} in {repo_type}s/{repo_id}")
        return self.storage.get_repo(repo_type, repo_id)
