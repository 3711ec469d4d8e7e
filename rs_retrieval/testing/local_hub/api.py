"""Routing: which endpoint answers a request, from its method and decoded path segments.

The routes are those that `huggingface_hub`, `transformers` and `datasets` call when this package publishes and
loads models and datasets: create a repo and a branch, read repo info and history, list trees, download files,
validate cards, preupload, upload LFS objects and commit. Shapes follow what `huggingface_hub` 2.x parses
(`ModelInfo`, `RepoFile`, `CommitInfo`...). Any other request answers 404 naming it. Xet is never advertised, so
clients use the LFS protocol.
"""

from __future__ import annotations

from collections.abc import Mapping

from .access import Auth, RepoAccess
from .content_endpoints import ContentEndpoints
from .errors import BadRequest, HubError
from .lfs import LfsEndpoints
from .messages import Request, Response, error_response, json_response
from .repo_endpoints import RepoEndpoints
from .storage import Storage

_PLURALS = {"models": "model", "datasets": "dataset"}
_LFS_BATCH = ["info", "lfs", "objects", "batch"]


def _revision(parts: list[str]) -> tuple[str, str]:
    """(revision, path after it) of the segments that follow an action; clients send the revision percent-encoded."""
    if not parts:
        raise BadRequest("Missing revision in the URL")
    return parts[0], "/".join(parts[1:])


def _no_route(r: Request) -> HubError:
    return HubError(f"No route for {r.method} {r.path} on this local Hub", status=404)


class HubApi:
    """All endpoints of one local Hub. `handle` never raises a `HubError`: it becomes the error response."""

    def __init__(self, storage: Storage, token: str | None, user: str) -> None:
        self.auth = Auth(token)
        self._access = RepoAccess(storage, self.auth)
        self.repos = RepoEndpoints(self._access, user)
        self.contents = ContentEndpoints(self._access, user)
        self.lfs = LfsEndpoints(storage.blobs)

    def is_trusted(self, headers: Mapping[str, str]) -> bool:
        """Whether a request carries the server token (the server then reads a refused body to keep the connection)."""
        return self.auth.is_trusted(headers)

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except HubError as error:
            return error_response(error)

    def _route(self, r: Request) -> Response:
        s, method = r.segments, r.method
        if s in ([], [""]):
            return json_response({"message": "local Hugging Face Hub", "endpoint": r.base_url})
        if s[0] == "api" and len(s) >= 4 and s[1] in _PLURALS:
            return self._route_repo(r, _PLURALS[s[1]], f"{s[2]}/{s[3]}", s[4:])
        if (method, *s) == ("POST", "api", "repos", "create"):
            return self.repos.create_repo(r)
        if (method, *s) == ("POST", "api", "validate-yaml"):
            return self.repos.validate_yaml(r)
        if s[0] == "__lfs__" and len(s) == 3 and (s[1], method) == ("upload", "PUT"):
            return self.lfs.upload(r, s[2])
        if s[0] == "__lfs__" and len(s) == 3 and (s[1], method) == ("verify", "POST"):
            return self.lfs.verify(r, s[2])
        # Git-side URLs: `[datasets/]namespace/name/...`
        repo_type, rest = ("dataset", s[1:]) if s[0] == "datasets" else ("model", s)
        if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == _LFS_BATCH and method == "POST":
            self._access.writable(r, repo_type, f"{rest[0]}/{rest[1].removesuffix('.git')}", "upload LFS files")
            return self.lfs.batch(r)
        if len(rest) >= 4 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            return self.contents.resolve(r, repo_type, f"{rest[0]}/{rest[1]}", *_revision(rest[3:]))
        raise _no_route(r)

    def _route_repo(self, r: Request, repo_type: str, repo_id: str, sub: list[str]) -> Response:
        """`/api/{models,datasets}/namespace/name[/action/...]`."""
        route, args = (r.method, sub[0] if sub else ""), sub[1:]
        if route == ("GET", ""):
            return self.repos.info(r, repo_type, repo_id, "main")
        if route == ("GET", "revision"):
            return self.repos.info(r, repo_type, repo_id, _revision(args)[0])
        if route == ("GET", "commits"):
            return self.repos.commits(r, repo_type, repo_id, _revision(args)[0])
        if route == ("POST", "branch") and args:
            return self.repos.create_branch(r, repo_type, repo_id, "/".join(args))
        if route == ("GET", "tree"):
            return self.contents.tree(r, repo_type, repo_id, *_revision(args))
        if route == ("POST", "preupload"):
            return self.contents.preupload(r, repo_type, repo_id, _revision(args)[0])
        if route == ("POST", "commit"):
            return self.contents.commit(r, repo_type, repo_id, _revision(args)[0])
        raise _no_route(r)
