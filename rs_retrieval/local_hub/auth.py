"""Who may do what: one server token, compared in constant time, never repeated back.

`LocalHub` always has a token unless anonymous writes were explicitly allowed, in which case every request
is allowed (unsafe on a machine with other users). With a token:
writes need `Authorization: Bearer <token>`, private repos need it to be read, and a request that
sends any other token is refused outright (401), as the Hub does with a revoked token.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from .errors import INVALID_CREDENTIALS, RepoNotFound, Unauthorized
from .storage import Repo


class Auth:
    def __init__(self, token: str | None) -> None:
        self._token = token

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def _presented(self, headers: Mapping[str, str]) -> str | None:
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

    def require_read(self, headers: Mapping[str, str], repo: Repo) -> None:
        """Private repos are invisible (401 RepoNotFound, like the Hub) to unauthenticated requests."""
        if not self.is_authenticated(headers) and repo.private:
            raise RepoNotFound(f"Repository {repo.repo_type}s/{repo.repo_id} not found", status=401)
