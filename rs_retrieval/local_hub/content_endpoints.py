"""Endpoints about repo contents: tree listings, paths-info, file downloads, preupload and commits.

A commit arrives as NDJSON: a `header` line (summary, description, optional parentCommit) then one
line per operation: `file` (base64 content, a regular git file), `lfsFile` (sha256 of an object
already uploaded through the LFS endpoints), `deletedFile`, `deletedFolder`. Copies arrive already
expanded into `file`/`lfsFile` lines by the client.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import Any
from urllib.parse import parse_qs, urlencode

from . import trees
from .access import RepoAccess, repo_url
from .blobs import is_sha256
from .downloads import file_response
from .errors import BadRequest, EntryNotFound
from .limits import MAX_COMMIT_BODY
from .messages import JSON, Request, Response, json_object, json_response, objects, strings, typed
from .storage import AddFile, DeleteFile, DeleteFolder, FileEntry, Operation, Repo
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


class ContentEndpoints:
    """Tree pages hold `tree_page_size` entries (`expanded_tree_page_size` with `expand`), as on the Hub."""

    tree_page_size = 1000
    expanded_tree_page_size = 50

    def __init__(self, access: RepoAccess, user: str) -> None:
        self.access = access
        self.storage = access.storage
        self.auth = access.auth
        self.user = user

    def _commit_json(self, repo: Repo, oid: str) -> dict:
        commit = repo.commits[oid]
        return {"id": commit.oid, "title": commit.title, "date": commit.date}

    def _entry_json(self, repo: Repo, item: FileEntry | trees.Folder, expand: bool) -> dict:
        """A tree entry as `RepoFile`/`RepoFolder` parse it; `expand` adds the last commit that touched it."""
        if isinstance(item, FileEntry):
            data: dict = {"type": "file", "oid": item.blob_id, "size": item.size, "path": item.path}
            if item.lfs:
                data["lfs"] = {"oid": item.sha256, "size": item.size, "pointerSize": item.pointer_size}
            last = item.last_commit
        else:
            data = {"type": "directory", "oid": item.oid, "size": 0, "path": item.path}
            last = max((entry.last_commit for entry in item.files), key=lambda oid: repo.commits[oid].date)
        if expand:
            data["lastCommit"] = self._commit_json(repo, last)
        return data

    def tree(self, r: Request, repo_type: str, repo_id: str, revision: str, path: str) -> Response:
        """One page of a folder listing; the next page's URL is in the `Link` header, as `paginate` follows it."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        items = trees.children(commit.files, path, recursive=r.flag("recursive"))
        if path and not items:
            raise EntryNotFound(f"{path} is not a folder at revision {revision} of {repo_id}",
                                headers={"X-Repo-Commit": commit.oid})
        expand = r.flag("expand")
        page_size = self.expanded_tree_page_size if expand else self.tree_page_size
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
        return json_response([self._entry_json(repo, item, expand) for item in page], headers=headers)

    def paths_info(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """Entries for the given paths (form-encoded by `get_paths_info`); missing paths are left out."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        if r.media_type == JSON:
            payload = r.json()
            paths, expand = strings(payload, "paths"), typed(payload, "expand", bool, False)
        else:
            r.require_media_type("application/x-www-form-urlencoded", JSON)
            try:
                form = parse_qs(r.read_body().decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise BadRequest("The form body is not valid UTF-8") from None
            paths, expand = form.get("paths", []), (form.get("expand", ["false"])[0].lower() in ("1", "true"))
        found = [trees.lookup(commit.files, path) for path in paths]
        return json_response([self._entry_json(repo, item, expand) for item in found if item is not None])

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
        """Apply an NDJSON commit to branch `revision` (or a new `refs/pr/N` with `create_pr=1`)."""
        repo = self.access.writable(r, repo_type, repo_id, "commit")
        r.require_media_type("application/x-ndjson", JSON)
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
        commit, pr_number = self.storage.commit(
            repo, revision, operations, title=typed(header, "summary", str, "") or "Upload files",
            message=typed(header, "description", str, ""), author=self.user,
            parent_commit=typed(header, "parentCommit", str, "") or None, create_pr=r.flag("create_pr"),
        )
        url = repo_url(r, repo_type, repo_id)
        return json_response({
            "success": True, "commitOid": commit.oid, "commitUrl": f"{url}/commit/{commit.oid}", "hookOutput": "",
            "pullRequestUrl": f"{url}/discussions/{pr_number}" if pr_number is not None else None,
        })

    def _operation(self, key: str, value: dict[str, Any]) -> Operation:
        path = typed(value, "path", str, "")
        path = _check_path(path.rstrip("/") if key == "deletedFolder" else path)
        if key == "file":
            content = typed(value, "content", str, "")
            if typed(value, "encoding", str, "base64") == "base64":
                try:
                    data = base64.b64decode(content, validate=True)
                except (binascii.Error, ValueError):
                    raise BadRequest(f"Content of {path} is not valid base64") from None
            else:
                data = content.encode()
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
        if key == "deletedFolder":
            return DeleteFolder(path)
        raise BadRequest(f"Unknown commit operation {key!r}; expected file, lfsFile, deletedFile or deletedFolder")
