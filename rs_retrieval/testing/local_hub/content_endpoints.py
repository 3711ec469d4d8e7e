"""Endpoints about repo contents: tree listings, file downloads, preupload and commits.

A commit stores only file paths, so the folders of a tree listing are derived from them here. A folder's oid is a
digest of its descendants, so it changes exactly when something below it changes (like a git tree id, without
being one).

A commit arrives as NDJSON: a `header` line (summary, description, optional parentCommit) then one
line per operation: `file` (base64 content, a regular git file), `lfsFile` (sha256 of an object
already uploaded through the LFS endpoints) or `deletedFile`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .access import RepoAccess, repo_url
from .blobs import is_sha256
from .downloads import file_response
from .errors import BadRequest, EntryNotFound
from .limits import MAX_COMMIT_BODY
from .messages import JSON, Request, Response, json_object, json_response, objects, typed
from .storage import AddFile, DeleteFile, FileEntry, Operation
from .upload_modes import DEFAULT_GITATTRIBUTES, upload_mode


def _check_path(path: str) -> str:
    """A file path inside a repo: relative, no empty/`.`/`..` part, not in `.git`, no control character.

    A CR or LF in a name could otherwise end a response header that carries it (Content-Disposition).
    """
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts) or parts[0] == ".git":
        raise BadRequest(f"Invalid path in repo: {path!r}")
    if any(unicodedata.category(char) == "Cc" for char in path):
        raise BadRequest(f"Invalid path in repo: {path!r} holds a control character (CR, LF, tab, NUL...)")
    return path


def _commit_line(line: bytes) -> tuple[str, dict[str, Any]]:
    """(key, value) of one NDJSON commit line, each of the right type, or BadRequest saying what is wrong."""
    item = json_object(line, "A commit line")
    key, value = item.get("key"), item.get("value")
    if not isinstance(key, str) or not isinstance(value, dict):
        raise BadRequest('Each commit line must be {"key": "<operation>", "value": {...}} with a string key and an '
                         "object value")
    return key, value


@dataclass(frozen=True)
class Folder:
    path: str
    oid: str


def _folder(files: Mapping[str, FileEntry], path: str) -> Folder:
    """The folder at `path` (`""` is the root) of a snapshot, with its oid."""
    prefix = path + "/" if path else ""
    digest = hashlib.sha1()
    for name, entry in sorted(files.items()):
        if name.startswith(prefix):
            digest.update(f"{entry.path}\x00{entry.blob_id}\n".encode())
    return Folder(path=path, oid=digest.hexdigest())


def _children(files: Mapping[str, FileEntry], path: str, recursive: bool) -> list[FileEntry | Folder]:
    """Entries below folder `path` (empty when no file lies below it): direct children, or all when `recursive`.

    Folders come before files at each level, like the Hub's listing.
    """
    path = path.strip("/")
    prefix = path + "/" if path else ""
    below = [entry for name, entry in sorted(files.items()) if name.startswith(prefix)]
    folder_paths: set[str] = set()
    direct_files: list[FileEntry] = []
    for entry in below:
        rest = entry.path[len(prefix):].split("/")
        if len(rest) == 1:
            direct_files.append(entry)
        elif recursive:
            folder_paths.update(prefix + "/".join(rest[:depth]) for depth in range(1, len(rest)))
        else:
            folder_paths.add(prefix + rest[0])
    folders = [_folder(files, name) for name in sorted(folder_paths)]
    if not recursive:
        return [*folders, *direct_files]
    result: list[FileEntry | Folder] = [*folders, *below]
    return sorted(result, key=lambda item: (item.path.split("/")[:-1], isinstance(item, FileEntry), item.path))


class ContentEndpoints:
    """Tree pages hold `tree_page_size` entries, as on the Hub."""

    tree_page_size = 1000

    def __init__(self, access: RepoAccess, user: str) -> None:
        self.access = access
        self.storage = access.storage
        self.user = user

    @staticmethod
    def _entry_json(item: FileEntry | Folder) -> dict:
        """A tree entry as `RepoFile`/`RepoFolder` parse it."""
        if isinstance(item, Folder):
            return {"type": "directory", "oid": item.oid, "size": 0, "path": item.path}
        data: dict = {"type": "file", "oid": item.blob_id, "size": item.size, "path": item.path}
        if item.lfs:
            data["lfs"] = {"oid": item.sha256, "size": item.size, "pointerSize": item.pointer_size}
        return data

    def tree(self, r: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        """One page of a folder listing; the next page's URL is in the `Link` header, as `paginate` follows it."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        items = _children(commit.files, path, recursive=r.flag("recursive"))
        if path and not items:
            raise EntryNotFound(f"{path} is not a folder at revision {revision} of {repo_id}",
                                headers={"X-Repo-Commit": commit.oid})
        page_size = self.tree_page_size
        try:
            start = int(r.param("cursor") or 0)
        except ValueError:
            raise BadRequest("Invalid pagination cursor") from None
        page = items[start:start + page_size]
        headers = {}
        if start + page_size < len(items):
            query = {key: values[0] for key, values in r.query.items() if key != "cursor"}
            query["cursor"] = str(start + page_size)
            headers["Link"] = f'<{r.base_url}{r.path}?{urlencode(query)}>; rel="next"'
        return json_response([self._entry_json(item) for item in page], headers=headers)

    def resolve(self, r: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        """A file's contents (GET) or headers (HEAD); 404 EntryNotFound carries X-Repo-Commit for the client cache."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        entry = commit.files.get(path)
        if entry is None:
            raise EntryNotFound(f"{path} does not exist at revision {revision} of {repo_type}s/{repo_id}",
                                headers={"X-Repo-Commit": commit.oid})
        return file_response(commit, entry, self.storage.blobs.path(entry.sha256), r.headers.get("Range"))

    # ----- uploads and commits ---------------------------------------------------------------------------------

    def preupload(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """`lfs` or `regular` for each announced file, and the current oid of files already in the revision."""
        repo = self.access.writable(r, repo_type, repo_id, "upload files")
        commit = self.storage.resolve(repo, revision)
        attributes = commit.files.get(".gitattributes")
        gitattributes = self.storage.blobs.read(attributes.sha256).decode("utf-8", "replace") if attributes \
            else DEFAULT_GITATTRIBUTES
        answers = []
        for item in objects(r.json(), "files"):
            path = _check_path(typed(item, "path", str, ""))
            try:
                sample = base64.b64decode(typed(item, "sample", str, ""))
            except (binascii.Error, ValueError):
                raise BadRequest(f"Sample of {path} is not valid base64") from None
            answer = {"path": path, "uploadMode": upload_mode(path, typed(item, "size", int, 0), sample, gitattributes),
                      "shouldIgnore": False}
            existing = commit.files.get(path)
            if existing is not None:
                answer["oid"] = existing.sha256 if existing.lfs else existing.blob_id
            answers.append(answer)
        return json_response({"files": answers, "commitOid": commit.oid})

    def commit(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """Apply an NDJSON commit to branch `revision`."""
        repo = self.access.writable(r, repo_type, repo_id, "commit")
        r.require_media_type("application/x-ndjson", JSON)
        if r.flag("create_pr"):
            raise BadRequest("The local Hub has no pull requests: commit to a branch instead (create_branch)")
        header: dict[str, Any] = {}
        operations: list[Operation] = []
        for line in r.read_body(MAX_COMMIT_BODY).splitlines():
            if not line.strip():
                continue
            key, value = _commit_line(line)
            if key == "header":
                header = value
            else:
                operations.append(self._operation(key, value))
        commit = self.storage.commit(
            repo, revision, operations, title=typed(header, "summary", str, "") or "Upload files",
            message=typed(header, "description", str, ""), author=self.user,
            parent_commit=typed(header, "parentCommit", str, "") or None,
        )
        url = repo_url(r, repo_type, repo_id)
        return json_response({"success": True, "commitOid": commit.oid, "commitUrl": f"{url}/commit/{commit.oid}",
                              "hookOutput": "", "pullRequestUrl": None})

    def _operation(self, key: str, value: dict[str, Any]) -> Operation:
        path = _check_path(typed(value, "path", str, ""))
        if key == "file":
            try:
                data = base64.b64decode(typed(value, "content", str, ""), validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"Content of {path} is not valid base64") from None
            return AddFile(path, self.storage.blobs.put_bytes(data), len(data), lfs=False)
        if key == "lfsFile":
            oid = typed(value, "oid", str, "")
            if not is_sha256(oid):
                raise BadRequest(f"lfsFile {path}: oid must be a sha256 hex digest")
            if not self.storage.blobs.has(oid):
                raise BadRequest(f"LFS object {oid} for {path} was never uploaded: upload it through the LFS batch "
                                 "endpoint before committing")
            size = value.get("size")
            return AddFile(path, oid, size if isinstance(size, int) else self.storage.blobs.size(oid), lfs=True)
        if key == "deletedFile":
            return DeleteFile(path)
        raise BadRequest(f"Unknown commit operation {key!r}; expected file, lfsFile or deletedFile")
