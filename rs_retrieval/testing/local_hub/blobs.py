"""Content-addressed file contents on disk, keyed by sha256, shared by every repo and commit.

A file uploaded once (as a regular file in a commit or as an LFS object) is stored once; commits only
reference it. Writes go to a temporary file first and are renamed into place, so a crashed or dropped
upload never leaves a half-written blob under its final name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(text: str) -> bool:
    """Whether `text` is a lowercase sha256 hex digest (and so safe to use as a file name)."""
    return _SHA256.fullmatch(text) is not None


def git_blob_id(content: bytes) -> str:
    """The git object id (sha1 of `blob <size>\\0<content>`) that the Hub sends as a regular file's ETag."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that stands in git for an LFS object; its blob id is the file's git oid."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class BlobStore:
    """Blobs under `root/<first two hex>/<sha256>`, plus a scratch folder for uploads in flight."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.scratch = self.root / ".incoming"
        self.scratch.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise ValueError(f"Not a sha256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str, size: int | None = None) -> bool:
        """Whether the blob is stored (and, if `size` is given, has that size)."""
        path = self.path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def size(self, sha256: str) -> int:
        return self.path(sha256).stat().st_size

    def put_bytes(self, content: bytes) -> str:
        """Store `content`; returns its sha256."""
        sha256 = hashlib.sha256(content).hexdigest()
        if not self.has(sha256, len(content)):
            handle, temp = tempfile.mkstemp(dir=self.scratch)
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            self.adopt(Path(temp), sha256)
        return sha256

    def put_stream(self, chunks: Iterator[bytes]) -> tuple[str, int, Path]:
        """Write `chunks` to a scratch file; returns (sha256, size, scratch path) for `adopt` or `discard`."""
        digest = hashlib.sha256()
        size = 0
        handle, temp = tempfile.mkstemp(dir=self.scratch)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return digest.hexdigest(), size, Path(temp)

    def adopt(self, scratch_file: Path, sha256: str) -> None:
        """Move a verified scratch file into place as blob `sha256`."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(scratch_file, target)

    @staticmethod
    def discard(scratch_file: Path) -> None:
        scratch_file.unlink(missing_ok=True)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
