"""Turn the Hub client's failures into one `PublishError` whose message says what happened and what to do.

The client raises `HfHubHTTPError` subclasses for answers it got, and httpx/OS errors for connections that broke;
a user pushing a checkpoint needs neither traceback, but must learn whether the token, the repo or the network is
at fault, that nothing local was touched, and that running the same command again resumes the push. A token is
never part of the message, even if a server echoed it back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..errors import RsRetrievalError


class PublishError(RsRetrievalError, RuntimeError):
    """A push to the Hub that did not complete; the message names the cause."""


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def _describe(error: Exception, target: str, token: str | None) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status == 401 and token is None:
        return (f"the Hub refused the push to {target} (HTTP 401): no token was found. Set HF_TOKEN to a token "
                "with write access, or run `hf auth login`.")
    if status in (401, 403):
        return (f"the Hub refused the push to {target} (HTTP {status}): the token was rejected or has no write "
                "access to this repo. Check HF_TOKEN (or `hf auth login`) and the repo's namespace.")
    if isinstance(error, RepositoryNotFoundError):
        return f"{target} was not found, or the token cannot see it (HTTP {status})."
    if isinstance(error, HfHubHTTPError):
        server = getattr(error, "server_message", None) or str(error).splitlines()[0]
        return f"the Hub answered HTTP {status} while pushing to {target}: {server}"
    return f"the connection to the Hub broke while pushing to {target} ({type(error).__name__}: {error})"


_TRANSPORT_MODULES = {"httpx", "httpx2", "httpcore", "httpcore2", "h11"}
#: Answers after which re-running the same command can complete the push (the others need a fix first).
_RETRYABLE = (None, 408, 429, 500, 502, 503, 504)
UNCHANGED = "the remote repo is unchanged"
RETRY = "running the same command again completes the push"


def _hub_failure(error: BaseException) -> Exception | None:
    """The client failure behind `error`: itself, or for the client's `RuntimeError("Error while uploading ...")`
    the network error it wraps; None for anything else (our own bugs keep their traceback)."""
    seen = error
    while seen is not None:
        if isinstance(seen, OSError) or type(seen).__module__.split(".")[0] in _TRANSPORT_MODULES:
            return seen  # HfHubHTTPError and ConnectionError are OSErrors
        if not isinstance(seen, RuntimeError):
            return None
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.contextmanager
def hub_errors(target: str, token: str | None, local: str | None = None) -> Iterator[None]:
    """Re-raise client failures inside the block as `PublishError` (token-free, with the retry advice).

    Every push is one commit made last, so a failure inside the block leaves the remote repo as it was.
    """
    try:
        yield
    except PublishError:
        raise
    except Exception as error:
        failure = _hub_failure(error)
        if failure is None:
            raise
        raise PublishError(_scrub(_message(failure, target, token, local), token)) from None


def _message(error: Exception, target: str, token: str | None, local: str | None) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    parts = [f"Nothing local was changed ({local})"] if local else []
    parts += [UNCHANGED, RETRY] if status in _RETRYABLE else [UNCHANGED]
    advice = "; ".join(parts)
    return f"{_describe(error, target, token)} {advice[0].upper()}{advice[1:]}."


__all__ = ["PublishError", "RETRY", "UNCHANGED", "hub_errors"]
