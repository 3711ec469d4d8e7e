"""The one exception type of the search package for bad input: what a command prints instead of a traceback."""

from __future__ import annotations

from ..errors import RsRetrievalError


class SearchError(RsRetrievalError, ValueError):
    """Bad input to indexing or search (missing folder, empty gallery, model/index mismatch...); the message says which."""


__all__ = ["SearchError"]
