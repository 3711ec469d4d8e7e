"""Routing: which endpoint answers a request, from its method and decoded path segments.

Shapes follow what `huggingface_hub` 2.x parses (`ModelInfo`, `RepoFile`, `GitRefs`, `CommitInfo`...).
Endpoints the clients never call for models and datasets (discussions, Spaces runtime, Xet tokens)
are absent and answer 404. Xet is never advertised, so clients use the LFS protocol.
"""

from __future__ import annotations

from collections.abc import Mapping

from .access import RepoAccess
from .auth import Auth
from .content_endpoints import ContentEndpoints
from .errors import BadRequest, HubError
from .lfs import LfsEndpoints
from .messages import Request, Response, error_response, json_response
from .repo_endpoints import RepoEndpoints
from .storage import Storage

_PLURALS = {"models": "model", "datasets": "dataset", "spaces": "space"}
_QUALIFIED_REFS = ("pr", "convert", "heads", "tags")
_LFS_BATCH = ["info", "lfs", "objects", "batch"]


def split_revision(parts: list[str]) -> tuple[str, list[str]]:
    """(revision, rest of the path); an unencoded `refs/pr/1`-style revision spans three segments."""
    if not parts:
        raise BadRequest("Missing revision in the URL")
    if parts[0] == "refs" and len(parts) >= 3 and parts[1] in _QUALIFIED_REFS:
        return "/".join(parts[:3]), parts[3:]
    return parts[0], parts[1:]


def _no_route(r: Request) -> HubError:
    return HubError(f"No route for {r.method} {r.path} on this local Hub", status=404)


class HubApi:
    """All endpoints of one local Hub. `handle` never raises a `HubError`: it becomes the error response."""

    def __init__(self, storage: Storage, token: str | None, user: str) -> None:
        self.storage = storage
        self.auth = Auth(token)
        access = RepoAccess(storage, self.auth)
        self.repos = RepoEndpoints(access, user)
        self.contents = ContentEndpoints(access, user)
        self.lfs = LfsEndpoints(storage.blobs)
        self._access = access

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
        if s[0] == "api":
            return self._route_api(r, s[1:])
        if s[0] == "__lfs__" and len(s) == 3 and (s[1], method) == ("upload", "PUT"):
            return self.lfs.upload(r, s[2])
        if s[0] == "__lfs__" and len(s) == 3 and (s[1], method) == ("verify", "POST"):
            return self.lfs.verify(r, s[2])
        # Git-side URLs: `[datasets/|spaces/]namespace/name/...`
        repo_type, rest = (_PLURALS[s[0]], s[1:]) if s[0] in ("datasets", "spaces") else ("model", s)
        if len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == _LFS_BATCH and method == "POST":
            self._access.writable(r, repo_type, f"{rest[0]}/{rest[1].removesuffix('.git')}", "upload LFS files")
            return self.lfs.batch(r)
        if len(rest) >= 4 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            revision, path = split_revision(rest[3:])
            return self.contents.resolve(r, repo_type, f"{rest[0]}/{rest[1]}", revision, "/".join(path))
        raise _no_route(r)

    def _route_api(self, r: Request, s: list[str]) -> Response:
        route = (r.method, *s)
        if route == ("GET", "whoami-v2"):
            return self.repos.whoami(r)
        if route == ("POST", "repos", "create"):
            return self.repos.create_repo(r)
        if route == ("DELETE", "repos", "delete"):
            return self.repos.delete_repo(r)
        if route == ("POST", "repos", "move"):
            return self.repos.move_repo(r)
        if route == ("POST", "validate-yaml"):
            return self.repos.validate_yaml(r)
        if r.method == "GET" and len(s) == 1 and s[0] in _PLURALS:
            return self.repos.list_repos(r, _PLURALS[s[0]])
        if len(s) >= 3 and s[0] in _PLURALS:
            return self._route_repo(r, _PLURALS[s[0]], f"{s[1]}/{s[2]}", s[3:])
        raise _no_route(r)

    def _route_repo(self, r: Request, repo_type: str, repo_id: str, sub: list[str]) -> Response:
        method, action, args = r.method, (sub[0] if sub else ""), sub[1:]
        repos, contents = self.repos, self.contents
        if (method, action) == ("GET", ""):
            return repos.info(r, repo_type, repo_id, "main")
        if (method, action) == ("GET", "revision"):
            return repos.info(r, repo_type, repo_id, split_revision(args)[0])
        if (method, action) == ("GET", "refs"):
            return repos.refs(r, repo_type, repo_id)
        if (method, action) == ("GET", "commits"):
            return repos.commits(r, repo_type, repo_id, split_revision(args)[0])
        if action == "branch" and args and method in ("POST", "DELETE"):
            return repos.branch(r, repo_type, repo_id, "/".join(args))
        if action == "tag" and args and method in ("POST", "DELETE"):
            return repos.tag(r, repo_type, repo_id, "/".join(args))
        if (method, action) == ("PUT", "settings"):
            return repos.settings(r, repo_type, repo_id)
        if (method, action) == ("GET", "auth-check"):
            return repos.auth_check(r, repo_type, repo_id, write=args[:1] == ["write"])
        if (method, action) == ("GET", "tree"):
            revision, path = split_revision(args)
            return contents.tree(r, repo_type, repo_id, revision, "/".join(path))
        if (method, action) == ("POST", "paths-info"):
            return contents.paths_info(r, repo_type, repo_id, split_revision(args)[0])
        if (method, action) == ("POST", "preupload"):
            return contents.preupload(r, repo_type, repo_id, split_revision(args)[0])
        if (method, action) == ("POST", "commit"):
            return contents.commit(r, repo_type, repo_id, split_revision(args)[0])
        raise _no_route(r)
