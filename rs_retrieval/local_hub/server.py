"""The HTTP layer: a threaded standard-library server that feeds requests to `HubApi` and writes its responses.

It speaks HTTP/1.1 with keep-alive (the clients pool connections), reads request bodies sent with
`Content-Length` or `Transfer-Encoding: chunked` (file uploads are streamed), streams file downloads
from the blob store, and applies fault rules before any endpoint runs.

    with LocalHub(tmp_path / "hub", token="hf_secret") as hub:
        env = client_environment(hub.url, token="hf_secret")
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from .api import HubApi
from .errors import HubError
from .faults import Fault, Faults
from .messages import Request, Response, error_response
from .storage import Storage

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 20
DEFAULT_USER = "local-user"


class _BodyReader:
    """Reads one request body exactly once, whole or in chunks, so the connection stays usable afterwards."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._rfile = handler.rfile
        self._chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        self._remaining = int(handler.headers.get("Content-Length") or 0)
        self.consumed = self.finished = not self._chunked and self._remaining == 0

    def chunks(self) -> Iterator[bytes]:
        if self.consumed:
            return
        self.consumed = True
        if self._chunked:
            yield from self._chunked_parts()
        else:
            while self._remaining > 0:
                part = self._rfile.read(min(READ_CHUNK, self._remaining))
                if not part:
                    raise ConnectionError("client closed the connection before sending the whole body")
                self._remaining -= len(part)
                yield part
        self.finished = True

    def _chunked_parts(self) -> Iterator[bytes]:
        while True:
            size_line = self._rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            left = size
            while left > 0:
                part = self._rfile.read(min(READ_CHUNK, left))
                if not part:
                    raise ConnectionError("client closed the connection in the middle of a chunk")
                left -= len(part)
                yield part
            self._rfile.readline(3)  # CRLF after the chunk

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def drain(self) -> None:
        for _ in self.chunks():
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HubHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming convention)
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _handle(self) -> None:
        body = _BodyReader(self)
        request = Request.build(self.command, self.path, self.headers, body.read, body.chunks, self.server.url)
        fault = self.server.faults.take(request.method, request.path)
        if fault is not None:
            self._apply_fault(fault, body, request)
            return
        try:
            response = self.server.api.handle(request)
        except Exception as error:  # a bug must answer 500, not hang the client
            logger.exception("local hub: %s %s failed", request.method, request.path)
            response = error_response(HubError(f"Internal error in the local Hub: {type(error).__name__}: {error}",
                                               status=500))
        self._finish_body(body)
        self._send(request, response)

    def _finish_body(self, body: _BodyReader) -> None:
        """Read what the endpoint left of the body, so the next request on this connection starts in step."""
        try:
            body.drain()
        except (OSError, ValueError):
            pass
        if not body.finished:
            self.close_connection = True  # a body read halfway leaves the stream out of step

    def _apply_fault(self, fault: Fault, body: _BodyReader, request: Request) -> None:
        self._finish_body(body)
        if fault.action == "drop":
            self.server.record(request.method, request.path, "dropped")
            self.close_connection = True  # close without writing a single byte
            return
        message = f"Injected fault: {fault.action} for {request.method} {request.path}"
        self._send(request, error_response(HubError(message, status=int(fault.action))))

    def _send(self, request: Request, response: Response) -> None:
        self.server.record(request.method, request.path, response.status)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(response.content_length))
            self.end_headers()
            if request.method == "HEAD":
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

    def __init__(self, address: tuple[str, int], api: HubApi, faults: Faults) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.faults = faults
        self.url = ""
        self.requests: collections.deque[tuple[str, str, int | str]] = collections.deque(maxlen=10_000)

    def record(self, method: str, path: str, status: int | str) -> None:
        self.requests.append((method, path, status))


class LocalHub:
    """A Hugging Face Hub API server on this machine, for tests and offline work.

    `data_dir` holds repos and file contents and survives restarts. `port=0` picks a free port (read it
    back from `url`). With `token`, writes and private reads need `Authorization: Bearer <token>`.
    `faults` injects failures; `requests` lists (method, path, status) of everything served.
    """

    def __init__(self, data_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, user: str = DEFAULT_USER) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.token = token
        self.user = user
        self.storage = Storage(self.data_dir)
        self.api = HubApi(self.storage, token=token, user=user)
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
        self._server = _HubHTTPServer((self.host, self.port), self.api, self.faults)
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

    def serve_forever(self) -> None:
        """Block until `stop()` is called from another thread (or the process is interrupted)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
