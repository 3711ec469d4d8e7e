"""The exception types of the search package: what a command prints instead of a traceback."""

from __future__ import annotations

from ..errors import RsRetrievalError, UsageError


class SearchError(RsRetrievalError, ValueError):
    """A failure of indexing or search (a damaged index, nothing embeddable...); the message says which. Exit 1."""


class SearchInputError(UsageError, SearchError):
    """Bad input named by the caller (a missing folder, an unknown split or column, an empty query, a model of
    another dimension); on the command line that is a bad argument, so exit 2."""


__all__ = ["SearchError", "SearchInputError"]
