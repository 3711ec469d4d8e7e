"""Folders of a snapshot: a commit stores only file paths, so folders are derived from them here.

Used by the `tree` and `paths-info` endpoints. A folder's oid is a digest of its descendants, so it
changes exactly when something below it changes (like a git tree id, without being one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from .storage import FileEntry


@dataclass(frozen=True)
class Folder:
    path: str
    oid: str
    files: tuple[FileEntry, ...]


def folder(files: Mapping[str, FileEntry], path: str) -> Folder | None:
    """The folder at `path` (`""` is the root), or None when no file lies below it."""
    prefix = path.strip("/") + "/" if path.strip("/") else ""
    below = tuple(entry for name, entry in sorted(files.items()) if name.startswith(prefix))
    if not below and prefix:
        return None
    digest = hashlib.sha1()
    for entry in below:
        digest.update(f"{entry.path}\x00{entry.blob_id}\n".encode())
    return Folder(path=path.strip("/"), oid=digest.hexdigest(), files=below)


def children(files: Mapping[str, FileEntry], path: str, recursive: bool) -> list[FileEntry | Folder]:
    """Entries below folder `path`: direct children, or every file and folder when `recursive`.

    Folders come before files at each level, like the Hub's listing.
    """
    parent = folder(files, path)
    if parent is None:
        return []
    prefix = parent.path + "/" if parent.path else ""
    folder_paths: set[str] = set()
    direct_files: list[FileEntry] = []
    for entry in parent.files:
        rest = entry.path[len(prefix):].split("/")
        if len(rest) == 1:
            direct_files.append(entry)
        elif recursive:
            folder_paths.update(prefix + "/".join(rest[:depth]) for depth in range(1, len(rest)))
        else:
            folder_paths.add(prefix + rest[0])
    folders = [folder(files, name) for name in sorted(folder_paths)]
    if not recursive:
        return [*folders, *direct_files]  # type: ignore[list-item]
    result: list[FileEntry | Folder] = [*folders, *(entry for entry in parent.files)]  # type: ignore[list-item]
    return sorted(result, key=lambda item: (item.path.split("/")[:-1], isinstance(item, FileEntry), item.path))


def lookup(files: Mapping[str, FileEntry], path: str) -> FileEntry | Folder | None:
    """The file or folder at `path`, or None."""
    path = path.strip("/")
    return files.get(path) or folder(files, path)
