"""The request and response values passed between the HTTP layer (`server.py`) and the endpoints.

Endpoints never touch sockets: they take a `Request` and return a `Response`, which is either a
bytes body or a byte range of a stored blob streamed from disk by the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from .errors import HubError


@dataclass
class Request:
    """An incoming request; `segments` are the `/`-separated path parts, each percent-decoded.

    Decoding after splitting keeps an encoded slash (`refs%2Fpr%2F1`, `sub%2Ffile.txt`) inside its segment.
    `base_url` is the server as the client addressed it (from the Host header): the prefix of URLs handed out.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    read_body: Callable[[], bytes]
    iter_body: Callable[[], Iterator[bytes]]
    segments: list[str] = field(default_factory=list)
    base_url: str = ""

    @classmethod
    def build(cls, method: str, target: str, headers: Mapping[str, str], read_body: Callable[[], bytes],
              iter_body: Callable[[], Iterator[bytes]], default_base_url: str) -> Request:
        path, _, query = target.partition("?")
        segments = [unquote(part) for part in path.split("/")[1:]]
        host = headers.get("Host")
        return cls(method=method.upper(), path=path, query=parse_qs(query, keep_blank_values=True), headers=headers,
                   read_body=read_body, iter_body=iter_body, segments=segments,
                   base_url=f"http://{host}" if host else default_base_url)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter (`1`, `true`, `True` are true)."""
        return (self.param(name) or "").lower() in ("1", "true", "yes")

    def json(self) -> Any:
        body = self.read_body()
        try:
            return json.loads(body or b"{}")
        except ValueError as error:
            raise HubError(f"Request body is not valid JSON: {error}") from error


@dataclass
class Response:
    """Status, headers and either `body` or `blob_path[offset:offset+length]`."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    blob_path: Path | None = None
    offset: int = 0
    length: int = 0

    @property
    def content_length(self) -> int:
        return self.length if self.blob_path is not None else len(self.body)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # default=str: card metadata parsed from YAML may hold dates.
    body = json.dumps(data, default=str).encode()
    return Response(status=status, headers={"Content-Type": "application/json", **(headers or {})}, body=body)


def _header_safe(text: str) -> str:
    """One line of printable ASCII, as an HTTP header value must be."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode("ascii")[:1000]


def error_response(error: HubError, extra: dict[str, Any] | None = None) -> Response:
    """A JSON `{"error": message}` body with `X-Error-Message` (and `X-Error-Code` when typed) headers."""
    headers = {"X-Error-Message": _header_safe(error.message), **error.headers}
    if error.code:
        headers["X-Error-Code"] = error.code
    return json_response({"error": error.message, **(extra or {})}, status=error.status, headers=headers)
