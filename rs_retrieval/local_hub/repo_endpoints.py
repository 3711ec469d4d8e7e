"""Endpoints about repos as a whole: account, create/delete/move, settings, info, refs, history, card validation.

`info` is what `model_info`/`dataset_info`/`repo_info` parse: the resolved commit `sha`, `siblings`
(with sizes, blob ids and LFS info when `?blobs=true`), `cardData` from the README's YAML, and for
models the `config` keys the Hub extracts (`architectures`, `model_type`, `auto_map`).
"""

from __future__ import annotations

import hashlib
import json

from .access import URL_PREFIX, RepoAccess, repo_url
from .cards import card_data, metadata_errors
from .errors import BadRequest, Conflict, Unauthorized
from .messages import Request, Response, error_response, json_response, typed
from .storage import Commit


def _repo_type(payload: dict) -> str:
    repo_type = typed(payload, "type", str, "") or "model"
    if repo_type not in URL_PREFIX:
        raise BadRequest(f"Unknown repo type {repo_type!r}; expected model, dataset or space")
    return repo_type


def _private(payload: dict, default: bool | None) -> bool | None:
    """The visibility a request asks for: `visibility` ("private"/"public") or the older `private` boolean."""
    visibility = typed(payload, "visibility", str, "")
    if visibility:
        if visibility not in ("private", "public"):
            raise BadRequest(f"Unknown visibility {visibility!r}; expected private or public")
        return visibility == "private"
    return typed(payload, "private", bool, default)  # type: ignore[arg-type]


class RepoEndpoints:
    """`user` is the account every token maps to: the namespace of repos created without one."""

    def __init__(self, access: RepoAccess, user: str) -> None:
        self.access = access
        self.storage = access.storage
        self.auth = access.auth
        self.user = user

    def whoami(self, r: Request) -> Response:
        """The account behind the token (`HfApi.whoami`); 401 without one when the server has a token."""
        if not self.auth.is_authenticated(r.headers):
            raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")
        return json_response({
            "type": "user", "id": hashlib.sha1(self.user.encode()).hexdigest()[:24], "name": self.user,
            "fullname": self.user, "email": None, "emailVerified": False, "canPay": False, "isPro": False,
            "avatarUrl": "", "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "local-hub", "role": "write"}},
        })

    def _repo_target(self, payload: dict) -> tuple[str, str]:
        repo_type = _repo_type(payload)
        name = typed(payload, "name", str, "")
        if not name:
            raise BadRequest("Missing repo 'name' in the request body")
        return repo_type, f"{typed(payload, 'organization', str, '') or self.user}/{name}"

    def list_repos(self, r: Request, repo_type: str) -> Response:
        """`list_models` / `list_datasets`: one page, filtered by `author` and a `search` substring."""
        authenticated = self.auth.is_authenticated(r.headers)
        author, search = r.param("author"), (r.param("search") or "").lower()
        return json_response([
            {"_id": hashlib.sha1(f"{repo_type}/{repo.repo_id}".encode()).hexdigest()[:24], "id": repo.repo_id,
             "author": repo.repo_id.split("/")[0], "private": repo.private, "lastModified": repo.last_modified,
             "createdAt": repo.created_at, "downloads": 0, "likes": 0, "tags": []}
            for repo in self.storage.list_repos(repo_type)
            if (authenticated or not repo.private) and author in (None, repo.repo_id.split("/")[0])
            and search in repo.repo_id.lower()
        ])

    def create_repo(self, r: Request) -> Response:
        """A new repo; 409 with its `url` in the body when it exists (which `create_repo(exist_ok=True)` accepts)."""
        self.auth.require_write(r.headers, "create a repo")  # before reading a body
        payload = r.json()
        repo_type, repo_id = self._repo_target(payload)
        private = _private(payload, default=False)
        url = repo_url(r, repo_type, repo_id)
        try:
            self.storage.create_repo(repo_type, repo_id, private=private, author=self.user)
        except Conflict as error:
            return error_response(error, extra={"url": url})
        return json_response({"url": url, "name": repo_id, "id": repo_id})

    def delete_repo(self, r: Request) -> Response:
        """Forget a repo (its blobs stay: they may be shared with other repos)."""
        self.auth.require_write(r.headers, "delete a repo")
        repo_type, repo_id = self._repo_target(r.json())
        self.storage.delete_repo(repo_type, repo_id)
        return json_response({"success": True})

    def move_repo(self, r: Request) -> Response:
        self.auth.require_write(r.headers, "move a repo")
        payload = r.json()
        repo_type = _repo_type(payload)
        source, target = typed(payload, "fromRepo", str, ""), typed(payload, "toRepo", str, "")
        self.storage.move_repo(repo_type, source, target)
        return json_response({"success": True, "url": repo_url(r, repo_type, target)})

    def settings(self, r: Request, repo_type: str, repo_id: str) -> Response:
        """Visibility changes (`update_repo_settings(private=...)`); other settings are accepted and ignored."""
        repo = self.access.writable(r, repo_type, repo_id, "change settings")
        private = _private(r.json(), default=None)
        if private is not None:
            self.storage.set_private(repo.repo_type, repo.repo_id, private)
        return json_response({"success": True})

    def validate_yaml(self, r: Request) -> Response:
        """400 with `errors` when a card's YAML metadata does not parse; the client then raises ValueError."""
        self.auth.is_authenticated(r.headers)
        errors = metadata_errors(typed(r.json(), "content", str, ""))
        body = {"errors": [{"message": message} for message in errors], "warnings": []}
        if errors:
            return json_response({"error": errors[0], **body}, status=400, headers={"X-Error-Message": "Invalid YAML"})
        return json_response(body)

    def info(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """`model_info` / `dataset_info` of `revision` (see the module docstring)."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        readme = commit.files.get("README.md")
        card = card_data(self.storage.blobs.read(readme.sha256).decode("utf-8", "replace")) if readme else None
        namespace = repo_id.split("/")[0]
        card_tags = (card or {}).get("tags")
        siblings = []
        for entry in sorted(commit.files.values(), key=lambda item: item.path):
            sibling: dict = {"rfilename": entry.path}
            if r.flag("blobs"):
                sibling.update({"size": entry.size, "blobId": entry.blob_id})
                if entry.lfs:
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size}
            siblings.append(sibling)
        info: dict = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24], "id": repo_id,
            "author": namespace, "sha": commit.oid, "lastModified": commit.date, "createdAt": repo.created_at,
            "private": repo.private, "gated": False, "disabled": False, "downloads": 0, "likes": 0,
            "tags": [str(tag) for tag in card_tags] if isinstance(card_tags, list) else [],
            "siblings": siblings, "usedStorage": sum(entry.size for entry in commit.files.values()),
        }
        if card is not None:
            info["cardData"] = card
        if repo_type == "model":
            info["modelId"] = repo_id
            for key in ("library_name", "pipeline_tag"):
                if isinstance((card or {}).get(key), str):
                    info[key] = card[key]  # type: ignore[index]
            config = self._model_config(commit)
            if config is not None:
                info["config"] = config
        return json_response(info)

    def _model_config(self, commit: Commit) -> dict | None:
        entry = commit.files.get("config.json")
        if entry is None or entry.size > 1_000_000:
            return None
        try:
            config = json.loads(self.storage.blobs.read(entry.sha256))
        except ValueError:
            return None
        if not isinstance(config, dict):
            return None
        return {key: config[key] for key in ("architectures", "model_type", "auto_map") if key in config}

    def refs(self, r: Request, repo_type: str, repo_id: str) -> Response:
        """Branches, tags and (with `include_prs`) pull-request refs, as `list_repo_refs` parses them."""
        repo = self.access.readable(r, repo_type, repo_id)
        branches, tags = self.storage.refs(repo)
        data: dict = {
            "branches": [{"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid}
                         for name, oid in sorted(branches.items()) if not name.startswith("refs/")],
            "converts": [],
            "tags": [{"name": name, "ref": f"refs/tags/{name}", "targetCommit": oid}
                     for name, oid in sorted(tags.items())],
        }
        if r.flag("include_prs"):
            data["pullRequests"] = [{"name": name, "ref": name, "targetCommit": oid}
                                    for name, oid in sorted(branches.items()) if name.startswith("refs/pr/")]
        return json_response(data)

    def commits(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """History of `revision`, newest first, in one page."""
        repo = self.access.readable(r, repo_type, repo_id)
        return json_response([
            {"id": commit.oid, "title": commit.title, "message": commit.message, "date": commit.date,
             "authors": [{"user": commit.author, "avatar": ""}]}
            for commit in self.storage.history(repo, revision)
        ])

    def branch(self, r: Request, repo_type: str, repo_id: str, branch: str) -> Response:
        """Create (from `startingPoint`, default main; 409 if it exists) or delete a branch."""
        repo = self.access.writable(r, repo_type, repo_id, f"change branch {branch}")
        if r.method == "DELETE":
            self.storage.delete_branch(repo, branch)
        else:
            self.storage.create_branch(repo, branch, typed(r.json(), "startingPoint", str, "") or None)
        return json_response({"success": True})

    def tag(self, r: Request, repo_type: str, repo_id: str, name: str) -> Response:
        """POST tags revision `name` with body `tag`; DELETE removes tag `name`."""
        repo = self.access.writable(r, repo_type, repo_id, f"change tag {name}")
        if r.method == "DELETE":
            self.storage.delete_tag(repo, name)
        else:
            tag = typed(r.json(), "tag", str, "")
            if not tag:
                raise BadRequest("Missing 'tag' in the request body")
            self.storage.create_tag(repo, tag, name)
        return json_response({"success": True})

    def auth_check(self, r: Request, repo_type: str, repo_id: str, write: bool) -> Response:
        """200 when the caller may read (or, with `write`, write to) the repo."""
        repo = self.access.readable(r, repo_type, repo_id)
        if write:
            self.auth.require_write(r.headers, f"write to {repo.repo_id}")
        return json_response({"success": True})
