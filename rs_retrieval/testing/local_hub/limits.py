"""How much a request may send and how long it may take: the bounds that keep a running local Hub responsive.

A body is refused with 413 as soon as its declared `Content-Length` (or a chunk size) passes the limit of its
route, before any of it is read; a client that stops sending in the middle of a request is answered 408 after
`READ_TIMEOUT_S` of silence, which frees its thread.
"""

from __future__ import annotations

MAX_JSON_BODY = 16 * 1024 * 1024
"""JSON requests (create repo, preupload, LFS batch...): a preupload of thousands of files fits."""

MAX_COMMIT_BODY = 512 * 1024 * 1024
"""An NDJSON commit: regular files (each under 10 MB, larger ones go through LFS) travel inside it, base64-encoded."""

MAX_LFS_OBJECT = 50 * 1024 ** 3
"""One LFS object, as on huggingface.co; an upload may not exceed the size its signed URL was issued for."""

DRAIN_LIMIT = 64 * 1024
"""Left-over body bytes read to keep a connection usable after an early answer; past this the connection closes."""

READ_TIMEOUT_S = 60.0
"""Seconds of silence (request line, headers or body) after which a connection is answered 408 and closed."""
