"""`GET/HEAD /{repo}/resolve/{revision}/{path}`: file contents with the headers Hub clients rely on.

`hf_hub_download` first sends HEAD and needs `X-Repo-Commit` (the commit the revision resolved to)
and an ETag: the git blob id for regular files, the sha256 (as `X-Linked-Etag`, with `X-Linked-Size`)
for LFS files, which is also what names the blob in the client cache. `HfFileSystem` reads files in
pieces with `Range: bytes=a-b` / `bytes=a-` and treats 416 as end of file. The file name in
`Content-Disposition` is given twice (RFC 6266): an ASCII fallback and the exact UTF-8 name (RFC 5987), so
an Arabic name reaches the client whole and no character of a name can end the header.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import quote

from .errors import HubError
from .messages import Response
from .storage import Commit, FileEntry

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) for a single-range `Range` header, None to send everything; raises 416 when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not any(match.groups()):
        return None  # multi-range or malformed: serve the whole file, which HTTP allows
    first, last = match.groups()
    if first == "":
        start = max(size - int(last), 0)
        end = size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise HubError(f"Requested range {header.strip()} is not satisfiable for a file of {size} bytes", status=416,
                       headers={"Content-Range": f"bytes */{size}"})
    return start, end - start + 1


def _content_type(entry: FileEntry) -> str:
    """Regular files are text (they passed the preupload text test); LFS files are binary unless named otherwise."""
    guessed = mimetypes.guess_type(entry.path)[0]
    if entry.lfs:
        return guessed or "application/octet-stream"
    if guessed is None or guessed.startswith("text/"):
        return f"{guessed or 'text/plain'}; charset=utf-8"
    return guessed


def content_disposition(path: str) -> str:
    """`inline` with the file's name: `filename=` in printable ASCII (others as `_`), `filename*=` exact in UTF-8."""
    name = path.rsplit("/", 1)[-1]
    fallback = "".join(char if " " <= char <= "~" and char not in '"\\' else "_" for char in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(commit: Commit, entry: FileEntry, blob_path: Path, range_header: str | None) -> Response:
    """The response for one stored file; the server streams `blob_path` (HEAD sends headers only)."""
    headers = {
        "X-Repo-Commit": commit.oid,
        "Accept-Ranges": "bytes",
        "Content-Type": _content_type(entry),
        "Content-Disposition": content_disposition(entry.path),
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if entry.lfs:
        headers.update({"ETag": f'"{entry.sha256}"', "X-Linked-Etag": f'"{entry.sha256}"',
                        "X-Linked-Size": str(entry.size)})
    else:
        headers["ETag"] = f'"{entry.blob_id}"'
    try:
        byte_range = _byte_range(range_header, entry.size)
    except HubError as error:
        error.headers.update({"X-Repo-Commit": commit.oid})
        raise
    if byte_range is None:
        return Response(status=200, headers=headers, blob_path=blob_path, offset=0, length=entry.size)
    start, length = byte_range
    headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{entry.size}"
    return Response(status=206, headers=headers, blob_path=blob_path, offset=start, length=length)
