"""The local Hub is safe to leave running: tokens by default, no cross-origin doors, bounded bodies, 4xx for junk.

These tests speak raw HTTP (sockets and `http.client`) to a LocalHub in this process, so each one states exactly
which bytes arrive; no Hub client is imported.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from rs_retrieval.testing.local_hub import LocalHub
from rs_retrieval.testing.local_hub.limits import MAX_JSON_BODY

TOKEN = "hf_doors_test_token"
SHORT_READ_TIMEOUT_S = 0.3
REPLY_WAIT_S = 10  # only how long a test waits for an answer before it fails; never asserted on
Answer = tuple[int, http.client.HTTPMessage, bytes]


@pytest.fixture()
def hub(tmp_path: Path):
    with LocalHub(tmp_path / "hub", token=TOKEN, read_timeout=SHORT_READ_TIMEOUT_S) as server:
        server.storage.create_repo("model", "alice/model", private=False, author="test")
        yield server


def send(hub: LocalHub, raw: bytes) -> Answer:
    """Write `raw` as is on a new connection and parse the one response it gets."""
    with socket.create_connection((hub.host, hub.port), timeout=REPLY_WAIT_S) as connection:
        connection.sendall(raw)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, response.msg, response.read()


def request(hub: LocalHub, method: str, path: str, body: bytes = b"", *, token: str | None = TOKEN,
            content_type: str | None = "application/json", **headers: str) -> Answer:
    """One well-framed request; `headers` use `_` for `-` (X_Custom -> X-Custom); Host defaults to the server's."""
    lines = [f"{method} {path} HTTP/1.1", f"Content-Length: {len(body)}", "Connection: close"]
    all_headers = {"Host": f"127.0.0.1:{hub.port}",
                   **{name.replace("_", "-"): value for name, value in headers.items()}}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return send(hub, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def commit_body(path: str, content: bytes) -> bytes:
    lines = [{"key": "header", "value": {"summary": "add"}},
             {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(),
                                       "encoding": "base64"}}]
    return "\n".join(json.dumps(line) for line in lines).encode()


def files_of(hub: LocalHub) -> set[str]:
    repo = hub.storage.get_repo("model", "alice/model")
    return set(hub.storage.resolve(repo, "main").files)


def error_of(body: bytes) -> str:
    return json.loads(body)["error"]


# ----- writes need a token ----------------------------------------------------------------------------------------


def test_a_hub_started_without_a_token_generates_one_and_refuses_anonymous_writes(tmp_path):
    with LocalHub(tmp_path / "hub") as hub:
        assert isinstance(hub.token, str) and len(hub.token) >= 32
        status, _, body = request(hub, "POST", "/api/repos/create", b'{"name": "x"}', token=None)
        assert status == 401 and hub.token not in body.decode()
        assert request(hub, "POST", "/api/repos/create", b'{"name": "x"}', token=hub.token)[0] == 200
    with LocalHub(tmp_path / "other") as second:
        assert second.token != hub.token, "each start draws a fresh token"


def test_anonymous_writes_need_an_explicit_opt_in(tmp_path):
    with LocalHub(tmp_path / "hub", allow_anonymous_writes=True) as hub:
        assert hub.token is None
        assert request(hub, "POST", "/api/repos/create", b'{"name": "x"}', token=None)[0] == 200
    with pytest.raises(ValueError, match="anonymous"):
        LocalHub(tmp_path / "hub", token=TOKEN, allow_anonymous_writes=True)


# ----- browsers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_a_request_from_a_foreign_origin_is_refused_with_403(hub, origin):
    status, _, body = request(hub, "POST", "/api/models/alice/model/commit/main", commit_body("evil.py", b"import os"),
                              content_type="application/x-ndjson", Origin=origin)
    assert status == 403 and "origin" in error_of(body).lower()
    assert "evil.py" not in files_of(hub)


def test_a_request_from_the_servers_own_origin_is_served(hub):
    status, _, _ = request(hub, "POST", "/api/models/alice/model/commit/main", commit_body("ok.txt", b"fine"),
                           content_type="application/x-ndjson", Origin=f"http://localhost:{hub.port}")
    assert status == 200 and "ok.txt" in files_of(hub)


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "10.0.0.1:{port}"])
def test_a_host_header_that_is_not_the_servers_address_is_refused(hub, host):
    status, _, body = request(hub, "GET", "/api/models/alice/model", Host=host.format(port=hub.port))
    assert status == 403 and "host" in error_of(body).lower()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_the_loopback_names_of_the_server_are_accepted_hosts(hub, host):
    assert request(hub, "GET", "/api/models/alice/model", Host=host.format(port=hub.port))[0] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_commit_that_is_not_sent_as_ndjson_is_refused_with_415(hub, content_type):
    status, _, body = request(hub, "POST", "/api/models/alice/model/commit/main", commit_body("evil.py", b"x=1"),
                              content_type=content_type)
    assert status == 415 and "Content-Type" in error_of(body)
    assert "evil.py" not in files_of(hub)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_json_endpoints_refuse_bodies_that_are_not_declared_json(hub, content_type):
    status, _, _ = request(hub, "POST", "/api/repos/create", b'{"name": "made-by-a-form"}', content_type=content_type)
    assert status == 415
    assert not hub.storage.exists("model", f"{hub.user}/made-by-a-form")


# ----- bodies -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/repos/create", "/api/models/alice/model/commit/main",
                                  "/api/models/alice/model/preupload/main", "/alice/model.git/info/lfs/objects/batch"])
def test_an_unauthenticated_body_is_refused_before_it_is_read(hub, path):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 400000000\r\n\r\n")
    status, _, body = send(hub, head.encode())  # not one byte of the 400 MB is sent
    assert status == 401 and "authenticated" in error_of(body)


def test_a_body_past_the_limit_gets_413_before_it_is_read(hub):
    head = (f"POST /api/repos/create HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_JSON_BODY + 1}\r\n\r\n")
    status, _, body = send(hub, head.encode())
    assert status == 413 and str(MAX_JSON_BODY) in error_of(body)


def test_a_chunk_past_the_limit_gets_413_before_it_is_read(hub):
    head = (f"POST /api/repos/create HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, _, _ = send(hub, head.encode() + f"{MAX_JSON_BODY + 1:x}\r\n".encode())
    assert status == 413


def _request_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if "process_request" in thread.name]


def test_half_sent_bodies_time_out_with_408_and_free_their_threads(hub):
    head = (f"POST /api/repos/create HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
    sockets = [socket.create_connection((hub.host, hub.port), timeout=REPLY_WAIT_S) for _ in range(8)]
    try:
        for connection in sockets:
            connection.sendall(head.encode())
        for connection in sockets:  # every one is answered although none finishes its body
            response = http.client.HTTPResponse(connection)
            response.begin()
            assert response.status == 408 and "timed out" in error_of(response.read())
    finally:
        for connection in sockets:
            connection.close()
    for thread in _request_threads():
        thread.join(REPLY_WAIT_S)
    assert not [thread for thread in _request_threads() if thread.is_alive()]


def test_an_idle_connection_is_closed_after_the_read_timeout(hub):
    with socket.create_connection((hub.host, hub.port), timeout=REPLY_WAIT_S) as connection:
        connection.sendall(b"GET / HT")
        assert connection.recv(100) == b"", "the server hangs up instead of waiting forever for the request line"


@pytest.mark.parametrize("framing, body", [
    ("Content-Length: abc", b""),
    ("Content-Length: -5", b""),
    ("Content-Length: 5\r\nContent-Length: 7", b"{}"),
    ("Transfer-Encoding: gzip", b""),
    ("Transfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n"),
    ("Transfer-Encoding: chunked", b"2\r\n{}XX0\r\n\r\n"),
    ("Transfer-Encoding: chunked", b"-2\r\n{}\r\n0\r\n\r\n"),
])
def test_malformed_framing_gets_400_with_a_message(hub, framing, body):
    head = (f"POST /api/repos/create HTTP/1.1\r\nHost: 127.0.0.1:{hub.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n")
    status, _, answer = send(hub, head.encode() + body)
    assert status == 400 and error_of(answer)


WRONG_SHAPES = [
    ("POST", "/api/repos/create", b"[]"),
    ("POST", "/api/repos/create", b'"name"'),
    ("POST", "/api/repos/create", b'{"name": 5}'),
    ("POST", "/api/repos/create", b'{"name": "x", "organization": ["a"]}'),
    ("POST", "/api/repos/create", b'{"name": "x", "type": 3}'),
    ("POST", "/api/repos/create", b'{"name": "x", "private": "yes"}'),
    ("POST", "/api/repos/create", b"\xff\xfe"),
    ("POST", "/api/repos/create", b'{"name": "x", "visibility": true}'),
    ("POST", "/api/models/alice/model/branch/dev", b'{"startingPoint": 5}'),
    ("POST", "/api/models/alice/model/branch/dev", b"[]"),
    ("POST", "/api/models/alice/model/preupload/main", b'{"files": "a.txt"}'),
    ("POST", "/api/models/alice/model/preupload/main", b'{"files": [1]}'),
    ("POST", "/api/models/alice/model/preupload/main", b'{"files": [{"path": "a", "size": "big"}]}'),
    ("POST", "/api/models/alice/model/preupload/main", b'{"files": [{"path": "a", "size": 1, "sample": 5}]}'),
    ("POST", "/api/models/alice/model/preupload/main", b"[]"),
    ("POST", "/api/validate-yaml", b'{"content": 5}'),
    ("POST", "/alice/model.git/info/lfs/objects/batch", b'{"operation": "upload", "objects": [1]}'),
    ("POST", "/alice/model.git/info/lfs/objects/batch", b'{"operation": "upload", "objects": {"oid": 1}}'),
    ("POST", "/__lfs__/verify/" + "a" * 64, b"[]"),
]


@pytest.mark.parametrize("method, path, body", WRONG_SHAPES)
def test_wrong_shaped_json_gets_400_with_a_message(hub, method, path, body):
    status, _, answer = request(hub, method, path, body)
    assert status == 400 and error_of(answer)


COMMIT_SHAPES = [
    b'[1, 2]',
    b'{"key": "header", "value": ["summary"]}',
    b'{"key": "header", "value": {"summary": "s", "parentCommit": 5}}',
    b'{"key": "file", "value": "a.txt"}',
    b'{"key": "file", "value": {"path": "a.txt", "content": 5}}',
    b'{"key": "file", "value": {"path": 5, "content": ""}}',
    b'{"key": "lfsFile", "value": {"path": "a.bin", "oid": ["x"]}}',
    b'{"key": "deletedFile", "value": null}',
    b'{"key": 5, "value": {}}',
]


@pytest.mark.parametrize("line", COMMIT_SHAPES)
def test_wrong_shaped_commit_lines_get_400_with_a_message(hub, line):
    status, _, answer = request(hub, "POST", "/api/models/alice/model/commit/main", line,
                                content_type="application/x-ndjson")
    assert status == 400 and error_of(answer)


@pytest.mark.parametrize("method, path", [("GET", "/api/whoami-v2"), ("DELETE", "/api/repos/delete"),
                                          ("POST", "/api/models/alice/model/paths-info/main"),
                                          ("GET", "/api/spaces/alice/model")])
def test_a_route_the_local_hub_does_not_serve_gets_404_naming_it(hub, method, path):
    status, _, answer = request(hub, method, path, b"{}")
    assert status == 404 and f"No route for {method} {path}" in error_of(answer)


# ----- names ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["a\r\nX-Injected: 1.txt", "a\nb.txt", "tab\there.txt", "nul\x00.txt"])
def test_a_file_path_with_control_characters_is_refused(hub, path):
    status, _, answer = request(hub, "POST", "/api/models/alice/model/commit/main", commit_body(path, b"x"),
                                content_type="application/x-ndjson")
    assert status == 400 and "control character" in error_of(answer)
    assert files_of(hub) == {".gitattributes"}


def test_a_cr_lf_in_a_requested_path_never_reaches_a_response_header(hub):
    status, headers, _ = request(hub, "GET", "/alice/model/resolve/main/a%0D%0AX-Injected:%201.txt")
    assert status in (400, 404) and headers.get("X-Injected") is None
    assert all("\r" not in value and "\n" not in value for value in headers.values())


def test_an_arabic_file_name_uploads_and_downloads(hub):
    name = "صور/خريطة المطار.txt"
    content = "مطار\n".encode()
    status, _, answer = request(hub, "POST", "/api/models/alice/model/commit/main", commit_body(name, content),
                                content_type="application/x-ndjson")
    assert status == 200, answer
    status, headers, body = request(hub, "GET", "/alice/model/resolve/main/" + quote(name))
    assert (status, body) == (200, content)
    disposition = headers["Content-Disposition"]
    assert disposition.isascii() and f"filename*=UTF-8''{quote('خريطة المطار.txt')}" in disposition
    status, _, listing = request(hub, "GET", "/api/models/alice/model/tree/main/" + quote("صور"))
    assert status == 200 and [entry["path"] for entry in json.loads(listing)] == [name]


def test_a_url_that_is_not_utf_8_gets_400(hub):
    status, _, answer = request(hub, "GET", "/alice/model/resolve/main/%FF%FE.txt")
    assert status == 400 and "UTF-8" in error_of(answer)
