"""Errors the local Hub answers with: an HTTP status plus the `X-Error-Code` the Hub clients turn into typed errors.

`huggingface_hub.utils.hf_raise_for_status` reads `X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound)
to raise `RepositoryNotFoundError`, `RevisionNotFoundError` and `EntryNotFoundError`; without it a plain
`HfHubHTTPError` comes out. Messages name the problem and never contain a credential.
"""

from __future__ import annotations

from ...errors import RsRetrievalError


class HubError(Exception):
    """An answer other than success: `status` for the response line, `code` for `X-Error-Code` (may be None)."""

    status: int = 400
    code: str | None = None

    def __init__(self, message: str, *, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        # Extra response headers, e.g. X-Repo-Commit on a missing file so clients can cache its absence.
        self.headers: dict[str, str] = dict(headers or {})


class RepoNotFound(HubError):
    """No such repo, or a private one the caller may not read (the Hub does not tell the two apart)."""

    status = 404
    code = "RepoNotFound"


class RevisionNotFound(HubError):
    """The repo exists but the branch or commit does not."""

    status = 404
    code = "RevisionNotFound"


class EntryNotFound(HubError):
    """The revision exists but the file or folder does not."""

    status = 404
    code = "EntryNotFound"


class Unauthorized(HubError):
    """A write without a valid token, or a token the server does not know."""

    status = 401


class Conflict(HubError):
    """The thing to create already exists (repo, branch)."""

    status = 409


class PreconditionFailed(HubError):
    """A commit's `parentCommit` is no longer the head of its branch."""

    status = 412


class BadRequest(HubError):
    """A malformed request: unknown repo type, bad JSON, invalid YAML, unknown LFS object, bad framing."""

    status = 400


class Forbidden(HubError):
    """A request from a browser page of another site, or addressed to a host name that is not this server."""

    status = 403


class RequestTimeout(HubError):
    """The client stopped sending in the middle of a request body."""

    status = 408


class PayloadTooLarge(HubError):
    """A body larger than its route accepts (see `limits`)."""

    status = 413


class UnsupportedMediaType(HubError):
    """A JSON or NDJSON endpoint called with another `Content-Type` (e.g. a cross-site `text/plain` POST)."""

    status = 415


class LocalHubError(RsRetrievalError):
    """The local Hub cannot start: the port is taken, the data folder is a file or holds a corrupt repo file."""


INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
"""The exact message `hf_raise_for_status` keys on to report a bad token instead of a missing repo."""
