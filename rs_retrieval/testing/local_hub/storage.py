"""Repos, commits and branches of the local Hub, persisted as one JSON file per repo next to a blob store.

Every commit records the full file map of its snapshot (path -> size, sha256, git oid, LFS flag, last
commit), so reading any revision is a dictionary lookup and history never has to be replayed. File
contents live once in the content-addressed `BlobStore`. One lock guards all repo state: the server is
threaded and commits from concurrent clients (a Trainer pushing in the background) must serialise.

Layout under `data_dir`:  `blobs/<ab>/<sha256>`  and  `repos/<type>s/<namespace>/<name>.json`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .blobs import BlobStore, git_blob_id, lfs_pointer
from .errors import (
    BadRequest,
    Conflict,
    EntryNotFound,
    LocalHubError,
    PreconditionFailed,
    RepoNotFound,
    RevisionNotFound,
)
from .upload_modes import DEFAULT_GITATTRIBUTES

REPO_TYPES = ("model", "dataset")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_HEX = re.compile(r"[0-9a-f]{7,40}")


def now_iso() -> str:
    """UTC time in the Hub's format (`2024-01-31T12:00:00.000Z`), which `huggingface_hub` parses."""
    seconds = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


@dataclass(frozen=True)
class FileEntry:
    """One file of a snapshot. `blob_id` is the git oid: of the content, or of the LFS pointer for LFS files."""

    path: str
    size: int
    sha256: str
    blob_id: str
    lfs: bool
    last_commit: str = ""

    @property
    def pointer_size(self) -> int:
        return len(lfs_pointer(self.sha256, self.size))


@dataclass
class Commit:
    oid: str
    parents: list[str]
    title: str
    message: str
    date: str
    author: str
    files: dict[str, FileEntry] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["files"] = [asdict(entry) for entry in self.files.values()]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Commit:
        files = {item["path"]: FileEntry(**item) for item in data.pop("files")}
        return cls(**data, files=files)


@dataclass
class Repo:
    """A repo's branches (name -> commit id) and commits."""

    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    last_modified: str = ""

    def to_json(self) -> dict:
        return {
            "repo_type": self.repo_type, "repo_id": self.repo_id, "private": self.private,
            "created_at": self.created_at, "last_modified": self.last_modified,
            "branches": self.branches,
            "commits": [commit.to_json() for commit in self.commits.values()],
        }

    @classmethod
    def from_json(cls, data: dict) -> Repo:
        commits = {item["oid"]: Commit.from_json(item) for item in data.pop("commits")}
        data.pop("tags", None)  # kept by data folders of versions that served tags; tags are no longer served
        return cls(**data, commits=commits)


@dataclass(frozen=True)
class AddFile:
    """Put blob `sha256` at `path`; `lfs` says how it was uploaded (and how it is served)."""

    path: str
    sha256: str
    size: int
    lfs: bool


@dataclass(frozen=True)
class DeleteFile:
    path: str


Operation = AddFile | DeleteFile


def validate_repo_id(repo_id: str) -> None:
    """`namespace/name` with Hub-valid characters; raises BadRequest naming the problem."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_NAME.fullmatch(part) and "--" not in part and ".." not in part for part in parts):
        raise BadRequest(f"Invalid repo id {repo_id!r}: expected 'namespace/name' of letters, digits, '-', '_', '.'")


def _load_repo(path: Path) -> Repo:
    """One repo file of the data folder; LocalHubError naming the file when it is not one this server wrote."""
    try:
        return Repo.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise LocalHubError(f"{path} is not a valid local Hub repo file ({type(error).__name__}: {error}): restore it "
                            "or move it out of the data folder") from None


class Storage:
    """All repos of one local Hub, loaded from and written through to `data_dir`."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.blobs = BlobStore(self.data_dir / "blobs")
            self._repos_dir = self.data_dir / "repos"
            self._repos_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise LocalHubError(f"The local Hub's data folder {self.data_dir} is not a folder (or holds a file where "
                                "its blobs/ or repos/ folder belongs): choose another folder") from None
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], Repo] = {}
        for path in self._repos_dir.glob("*/*/*.json"):
            repo = _load_repo(path)
            self._repos[(repo.repo_type, repo.repo_id)] = repo

    # ----- repos -----------------------------------------------------------------------------------------------

    def get_repo(self, repo_type: str, repo_id: str) -> Repo:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise RepoNotFound(f"Repository {repo_type}s/{repo_id} not found")
        return repo

    def exists(self, repo_type: str, repo_id: str) -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    def create_repo(self, repo_type: str, repo_id: str, private: bool, author: str) -> Repo:
        """A new repo whose `main` holds one commit with the default `.gitattributes`, as on the Hub."""
        if repo_type not in REPO_TYPES:
            raise BadRequest(f"Unknown repo type {repo_type!r}; expected one of {', '.join(REPO_TYPES)}")
        validate_repo_id(repo_id)
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise Conflict(f"You already created this {repo_type} repo: {repo_id}")
            stamp = now_iso()
            repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=stamp, last_modified=stamp)
            self._repos[(repo_type, repo_id)] = repo
            attributes = DEFAULT_GITATTRIBUTES.encode()
            sha256 = self.blobs.put_bytes(attributes)
            add = AddFile(".gitattributes", sha256, len(attributes), lfs=False)
            self._apply_commit(repo, None, [add], "initial commit", "", author)
            repo.branches["main"] = next(iter(repo.commits))
            self._save(repo)
            return repo

    # ----- revisions -------------------------------------------------------------------------------------------

    def resolve(self, repo: Repo, revision: str) -> Commit:
        """The commit a branch (`name` or `refs/heads/name`), a full or abbreviated commit id points to."""
        with self._lock:
            oid = repo.branches.get(revision.removeprefix("refs/heads/"))
            if oid is None and _HEX.fullmatch(revision):
                matches = [commit for commit in repo.commits if commit.startswith(revision)]
                oid = matches[0] if len(matches) == 1 else None
            if oid is None:
                raise RevisionNotFound(f"Invalid rev id: {revision} (no such branch or commit in {repo.repo_id})")
            return repo.commits[oid]

    def create_branch(self, repo: Repo, branch: str, starting_point: str | None) -> None:
        with self._lock:
            if branch in repo.branches:
                raise Conflict(f"Branch {branch!r} already exists in {repo.repo_id}")
            repo.branches[branch] = self.resolve(repo, starting_point or "main").oid
            self._save(repo)

    def history(self, repo: Repo, revision: str) -> list[Commit]:
        """Commits reachable from `revision`, newest first (first-parent chain)."""
        with self._lock:
            commit: Commit | None = self.resolve(repo, revision)
            chain = []
            while commit is not None:
                chain.append(commit)
                commit = repo.commits[commit.parents[0]] if commit.parents else None
            return chain

    # ----- commits ---------------------------------------------------------------------------------------------

    def commit(self, repo: Repo, revision: str, operations: Iterable[Operation], title: str, message: str,
               author: str, parent_commit: str | None = None) -> Commit:
        """Apply `operations` on top of branch `revision`; returns the new commit.

        `parent_commit`, when given, must still be the branch head (412 otherwise) so a client that read the
        repo before writing never overwrites a commit it has not seen.
        """
        with self._lock:
            base = self.resolve(repo, revision)
            branch = revision.removeprefix("refs/heads/")
            if branch not in repo.branches:
                raise RevisionNotFound(f"Cannot commit to {revision!r}: it is not a branch of {repo.repo_id}; "
                                       "create it first with create_branch")
            if parent_commit is not None and not base.oid.startswith(parent_commit):
                raise PreconditionFailed(f"A commit has happened since {parent_commit[:12]}: the head of "
                                         f"{revision} is now {base.oid[:12]}. Please refresh and try again.")
            commit = self._apply_commit(repo, base, list(operations), title, message, author)
            repo.branches[branch] = commit.oid
            self._save(repo)
            return commit

    def _apply_commit(self, repo: Repo, base: Commit | None, operations: list[Operation], title: str,
                      message: str, author: str) -> Commit:
        files = dict(base.files) if base is not None else {}
        added: list[AddFile] = []
        for operation in operations:
            if isinstance(operation, AddFile):
                added.append(operation)
                files[operation.path] = self._entry(operation)
            elif files.pop(operation.path, None) is None:
                raise EntryNotFound(f"A file with this name doesn't exist: {operation.path}")
        date = now_iso()
        parents = [base.oid] if base is not None else []
        fingerprint = json.dumps([repo.repo_type, repo.repo_id, parents, title, message, date, time.perf_counter_ns(),
                                  sorted((entry.path, entry.blob_id) for entry in files.values())])
        oid = hashlib.sha1(fingerprint.encode()).hexdigest()
        for operation in added:
            files[operation.path] = FileEntry(**{**asdict(files[operation.path]), "last_commit": oid})
        commit = Commit(oid=oid, parents=parents, title=title, message=message, date=date, author=author, files=files)
        repo.commits[oid] = commit
        repo.last_modified = date
        return commit

    def _entry(self, add: AddFile) -> FileEntry:
        if not self.blobs.has(add.sha256):
            raise BadRequest(f"Content of {add.path} (sha256 {add.sha256}) was never uploaded: upload it through "
                             "the LFS batch endpoint before committing")
        size = self.blobs.size(add.sha256)
        if add.size != size:
            raise BadRequest(f"Size mismatch for {add.path}: the commit says {add.size} bytes, the upload has {size}")
        blob_id = git_blob_id(lfs_pointer(add.sha256, size) if add.lfs else self.blobs.read(add.sha256))
        return FileEntry(path=add.path, size=size, sha256=add.sha256, blob_id=blob_id, lfs=add.lfs)

    # ----- persistence -----------------------------------------------------------------------------------------

    def _repo_path(self, repo_type: str, repo_id: str) -> Path:
        return self._repos_dir / f"{repo_type}s" / f"{repo_id}.json"

    def _save(self, repo: Repo) -> None:
        path = self._repo_path(repo.repo_type, repo.repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(repo.to_json(), out)
        os.replace(temp, path)
