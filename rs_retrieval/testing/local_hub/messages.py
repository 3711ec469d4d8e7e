"""The request and response values passed between the HTTP layer (`server.py`) and the endpoints.

Endpoints never touch sockets: they take a `Request` and return a `Response`, which is either a
bytes body or a byte range of a stored blob streamed from disk by the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, quote, unquote_to_bytes

from .errors import BadRequest, HubError, UnsupportedMediaType
from .limits import MAX_JSON_BODY

T = TypeVar("T")
JSON = "application/json"


class Body(Protocol):
    """A request body that is read at most once, and never past `limit` bytes (413 beyond it)."""

    def read(self, limit: int) -> bytes: ...

    def chunks(self, limit: int) -> Iterator[bytes]: ...


def _segment(part: str) -> str:
    """One percent-decoded path segment; the request line arrives as latin-1, the name inside is UTF-8."""
    try:
        return unquote_to_bytes(part.encode("latin-1", "strict")).decode("utf-8")
    except UnicodeError:
        raise BadRequest(f"The URL path segment {part[:200]!r} is not valid UTF-8 once percent-decoded") from None


@dataclass
class Request:
    """An incoming request; `segments` are the `/`-separated path parts, each percent-decoded.

    Decoding after splitting keeps an encoded slash (`refs%2Fpr%2F1`, `sub%2Ffile.txt`) inside its segment.
    `base_url` is the server as the client addressed it (from the Host header, which the server has checked):
    the prefix of URLs handed out.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Body
    segments: list[str] = field(default_factory=list)
    base_url: str = ""

    @classmethod
    def build(cls, method: str, target: str, headers: Mapping[str, str], body: Body, default_base_url: str) -> Request:
        path, _, query = target.partition("?")
        segments = [_segment(part) for part in path.split("/")[1:]]
        host = headers.get("Host")
        return cls(method=method.upper(), path=path, query=parse_qs(query, keep_blank_values=True), headers=headers,
                   body=body, segments=segments, base_url=f"http://{host}" if host else default_base_url)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter (`1`, `true`, `True` are true)."""
        return (self.param(name) or "").lower() in ("1", "true", "yes")

    def read_body(self, limit: int = MAX_JSON_BODY) -> bytes:
        """The whole body; 413 when it is (or announces to be) longer than `limit`."""
        return self.body.read(limit)

    def iter_body(self, limit: int) -> Iterator[bytes]:
        """The body in pieces, for uploads streamed to disk; 413 once more than `limit` bytes arrive."""
        return self.body.chunks(limit)

    @property
    def media_type(self) -> str:
        """The `Content-Type` without parameters, lowercased (`""` when absent)."""
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def require_media_type(self, *accepted: str) -> None:
        """415 unless the body is declared as one of `accepted` (`+json` types count as JSON).

        A web page can send `text/plain`, form and multipart bodies to any site without asking; these types it
        cannot, so requiring them keeps a browser from writing to the Hub even where other checks fail.
        """
        media = self.media_type
        if media in accepted or (JSON in accepted and media.startswith("application/") and media.endswith("+json")):
            return
        raise UnsupportedMediaType(f"This endpoint needs a body sent with Content-Type: {' or '.join(accepted)} "
                                   f"(got {media or 'no Content-Type'})")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (`{}` when empty and untyped); 415 if not declared JSON, 400 if not an object."""
        if self.media_type:
            self.require_media_type(JSON)
        body = self.read_body()
        if not body:
            return {}
        self.require_media_type(JSON)
        return json_object(body, "Request body")


def json_object(text: bytes, what: str) -> dict[str, Any]:
    """`text` parsed as a JSON object; BadRequest naming `what` when it is not JSON or not an object."""
    try:
        value = json.loads(text)
    except ValueError as error:  # UnicodeDecodeError included
        raise BadRequest(f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def typed(payload: Mapping[str, Any], name: str, kind: type[T], default: T) -> T:
    """`payload[name]` when it has type `kind`, `default` when absent or null; BadRequest for any other type."""
    value = payload.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"Field {name!r} must be {_kind(kind())}, not {_kind(value)}")
    return value


def objects(payload: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """`payload[name]` as a list of JSON objects (empty when absent); BadRequest for any other shape."""
    items = typed(payload, name, list, [])
    if not all(isinstance(item, dict) for item in items):
        raise BadRequest(f"Field {name!r} must be a list of objects")
    return items


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


def header_safe(text: str) -> str:
    """`text` as one line of printable ASCII: other characters percent-encoded, so no CR/LF can end the header."""
    return "".join(char if " " <= char <= "~" else quote(char, safe="") for char in text)


def _message_header(text: str) -> str:
    """An error message for `X-Error-Message`: whitespace runs folded to one space, then made header-safe."""
    return header_safe(" ".join(text.split()))[:1000]


def error_response(error: HubError, extra: dict[str, Any] | None = None) -> Response:
    """A JSON `{"error": message}` body with `X-Error-Message` (and `X-Error-Code` when typed) headers."""
    headers = {"X-Error-Message": _message_header(error.message), **error.headers}
    if error.code:
        headers["X-Error-Code"] = error.code
    return json_response({"error": error.message, **(extra or {})}, status=error.status, headers=headers)
