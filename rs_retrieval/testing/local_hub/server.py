"""The HTTP layer: a threaded standard-library server that feeds requests to `HubApi` and writes its responses.

It speaks HTTP/1.1 with keep-alive (the clients pool connections), reads request bodies sent with
`Content-Length` or `Transfer-Encoding: chunked` (file uploads are streamed), streams file downloads
from the blob store, and applies fault rules before any endpoint runs.

    with LocalHub(tmp_path / "hub") as hub:  # draws a write token: hub.token
        env = client_environment(hub.url, token=hub.token)

Every request passes, in order: framing (Content-Length / chunked, 400 when malformed), the Host and Origin
checks (403, see `access`), fault rules, then the endpoint, which checks the token before reading a body and
reads it within the limits of `limits` (413). A silent client is answered 408 (`read_timeout`).
"""

from __future__ import annotations

import collections
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .access import Doors
from .api import HubApi
from .errors import BadRequest, HubError, LocalHubError, PayloadTooLarge, RequestTimeout
from .faults import Faults
from .limits import DRAIN_LIMIT, MAX_LFS_OBJECT, READ_TIMEOUT_S
from .messages import Request, Response, error_response, header_safe
from .storage import Storage

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
MAX_LINE = 65537
MAX_TRAILERS = 100
DEFAULT_USER = "local-user"
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")


def generate_token() -> str:
    """A fresh random write token (`hf_local_` + 43 URL-safe characters), drawn when none is given."""
    return "hf_local_" + secrets.token_urlsafe(32)


def _framing(headers: Message) -> tuple[bool, int]:
    """(chunked, Content-Length) of a request; BadRequest for framing a server cannot read safely."""
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = {value.strip() for value in headers.get_all("Content-Length") or []}
    if encodings:
        if [value.strip().lower() for value in encodings] != ["chunked"]:
            raise BadRequest(f"Unsupported Transfer-Encoding {', '.join(encodings)[:100]!r}: send chunked or a "
                             "Content-Length")
        if lengths:
            raise BadRequest("A request may not carry both Transfer-Encoding and Content-Length")
        return True, 0
    if len(lengths) > 1:
        raise BadRequest("The request has conflicting Content-Length headers")
    length = lengths.pop() if lengths else "0"
    if not (length.isascii() and length.isdigit()):
        raise BadRequest(f"Content-Length must be a non-negative integer, not {length[:40]!r}")
    return False, int(length)


class _BodyReader:
    """Reads one request body at most once, whole or in chunks, never past a limit, so the connection stays usable.

    Raises the `HubError` to answer: 400 for broken chunked framing or a client that hangs up, 408 when the client
    stops sending for longer than the socket timeout, 413 past the limit (from the declared size when known).
    """

    def __init__(self, rfile: BinaryIO, headers: Message) -> None:
        self._rfile = rfile
        self._chunked, self._remaining = _framing(headers)
        self.consumed = self.finished = not self._chunked and self._remaining == 0

    @property
    def small(self) -> bool:
        """Whether what is left is known to be small enough to read and throw away."""
        return not self._chunked and self._remaining <= DRAIN_LIMIT

    def chunks(self, limit: int) -> Iterator[bytes]:
        if self.consumed:
            return
        self.consumed = True
        if not self._chunked and self._remaining > limit:
            raise PayloadTooLarge(f"The request body has {self._remaining} bytes; this endpoint accepts at most "
                                  f"{limit}")
        try:
            yield from self._chunked_parts(limit) if self._chunked else self._exact(self._remaining)
        except TimeoutError:
            raise RequestTimeout("The client timed out: it stopped sending before the whole request body "
                                 "arrived") from None
        self.finished = True

    def _exact(self, size: int) -> Iterator[bytes]:
        while size > 0:
            part = self._rfile.read(min(READ_CHUNK, size))
            if not part:
                raise BadRequest("The client closed the connection before sending the whole body")
            size -= len(part)
            self._remaining = max(self._remaining - len(part), 0)
            yield part

    def _chunked_parts(self, limit: int) -> Iterator[bytes]:
        received = 0
        while True:
            size = self._chunk_size()
            if size == 0:
                self._skip_trailers()
                return
            received += size
            if received > limit:
                raise PayloadTooLarge(f"The chunked request body passes {limit} bytes, the most this endpoint accepts")
            yield from self._exact(size)
            if self._rfile.read(2) != b"\r\n":
                raise BadRequest("Malformed chunked body: a chunk is not followed by CRLF")

    def _chunk_size(self) -> int:
        line = self._rfile.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise BadRequest("Malformed chunked body: a chunk size line is cut off or too long")
        text = line.split(b";", 1)[0].strip()
        if _CHUNK_SIZE.fullmatch(text) is None:
            raise BadRequest(f"Malformed chunked body: {text[:20]!r} is not a hexadecimal chunk size")
        return int(text, 16)

    def _skip_trailers(self) -> None:
        for _ in range(MAX_TRAILERS):
            if self._rfile.readline(MAX_LINE) in (b"\r\n", b"\n", b""):
                return
        raise BadRequest("Malformed chunked body: too many trailer lines")

    def read(self, limit: int) -> bytes:
        return b"".join(self.chunks(limit))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HubHTTPServer

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # applies to every read and write on this connection
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming convention)
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _handle(self) -> None:
        """Framing, then Host/Origin, then faults, then the endpoint; every refusal is an answer, not a hang-up."""
        body: _BodyReader | None = None
        path = self.path.partition("?")[0]
        try:
            body = _BodyReader(self.rfile, self.headers)
            self.server.doors.check(self.headers)
            request = Request.build(self.command, self.path, self.headers, body, self.server.url)
            fault = self.server.faults.take(request.method, request.path)
            if fault is not None and fault.action == "drop":
                self._finish_body(body, trusted=True)
                self.server.record(self.command, path, "dropped")
                self.close_connection = True  # close without writing a single byte
                return
            if fault is not None:
                self._finish_body(body, trusted=True)  # as a failing real server would: after the upload
                raise HubError(f"Injected fault: {fault.action} for {request.method} {request.path}",
                               status=int(fault.action))
            response = self.server.api.handle(request)
        except HubError as error:
            response = error_response(error)
        except Exception as error:  # a bug must answer 500, not hang the client
            logger.exception("local hub: %s %s failed", self.command, path)
            response = error_response(HubError(f"Internal error in the local Hub: {type(error).__name__}: {error}",
                                               status=500))
        self._finish_body(body, trusted=self.server.api.is_trusted(self.headers))
        self._send(path, response)

    def _finish_body(self, body: _BodyReader | None, trusted: bool) -> None:
        """Read what the endpoint left of the body so the next request on this connection starts in step.

        Only a small left-over, or one sent with the server's token, is read (and thrown away): the large body of
        an unauthenticated request is never read, the connection closes instead.
        """
        if body is None:
            self.close_connection = True  # unreadable framing: the stream cannot be resynchronised
            return
        if not body.consumed and (trusted or body.small):
            try:
                for _ in body.chunks(MAX_LFS_OBJECT):
                    pass
            except (OSError, HubError):
                pass
        if not body.finished:
            self.close_connection = True

    def _send(self, path: str, response: Response) -> None:
        self.server.record(self.command, path, response.status)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, header_safe(value))
            self.send_header("Content-Length", str(response.content_length))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            if response.blob_path is None:
                self.wfile.write(response.body)
            else:
                self._send_file(response.blob_path, response.offset, response.length)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it

    def _send_file(self, path: Path, offset: int, length: int) -> None:
        with open(path, "rb") as source:
            source.seek(offset)
            while length > 0:
                part = source.read(min(READ_CHUNK, length))
                if not part:
                    break
                self.wfile.write(part)
                length -= len(part)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature of the base class)
        logger.debug("local hub: " + format, *args)


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 drops connections that arrive together (parallel uploads)

    def __init__(self, address: tuple[str, int], api: HubApi, faults: Faults, read_timeout: float,
                 allowed_hosts: Iterable[str]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.api = api
        self.faults = faults
        self.read_timeout = read_timeout
        self.doors = Doors(address[0], self.server_address[1], allowed_hosts)
        self.url = ""
        self.requests: collections.deque[tuple[str, str, int | str]] = collections.deque(maxlen=10_000)

    def record(self, method: str, path: str, status: int | str) -> None:
        self.requests.append((method, path, status))


class LocalHub:
    """A Hugging Face Hub API server on this machine, for tests and offline work.

    `data_dir` holds repos and file contents and survives restarts. `port=0` picks a free port (read it
    back from `url`). Writes and private reads need `Authorization: Bearer <token>`: without `token`, a
    random one is drawn (read it from `token`); `allow_anonymous_writes=True` instead lets any local
    program write, which is unsafe on a machine with other users. Requests must address the server by a
    loopback name, its bound address or one of `allowed_hosts`, and never come from a web page of another
    origin. A connection silent for `read_timeout` seconds is answered 408 and closed.
    `faults` injects failures; `requests` lists (method, path, status) of everything served.
    """

    def __init__(self, data_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, user: str = DEFAULT_USER, *, allow_anonymous_writes: bool = False,
                 allowed_hosts: Iterable[str] = (), read_timeout: float = READ_TIMEOUT_S) -> None:
        if token is not None and allow_anonymous_writes:
            raise ValueError("Give the local Hub a token or allow anonymous writes, not both")
        if token is not None and not token.strip():
            raise ValueError("The local Hub's token is empty")
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.token = None if allow_anonymous_writes else token or generate_token()
        self.user = user
        self.allowed_hosts = tuple(allowed_hosts)
        self.read_timeout = read_timeout
        self.storage = Storage(self.data_dir)
        self.api = HubApi(self.storage, token=self.token, user=user)
        self.faults = Faults()
        self._server: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://host:port` of the running server (the value for `HF_ENDPOINT`)."""
        if self._server is None:
            raise RuntimeError("LocalHub is not running: call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[tuple[str, str, int | str]]:
        return list(self._server.requests) if self._server is not None else []

    def start(self) -> LocalHub:
        if self._server is not None:
            return self
        try:
            self._server = _HubHTTPServer((self.host, self.port), self.api, self.faults, self.read_timeout,
                                          self.allowed_hosts)
        except OSError as error:
            raise LocalHubError(f"Cannot listen on {self.host}:{self.port}: {error.strerror or error}. Choose a free "
                                "port (0 picks one) and an address of this machine") from error
        self.port = self._server.server_address[1]
        self._server.url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"local-hub:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
