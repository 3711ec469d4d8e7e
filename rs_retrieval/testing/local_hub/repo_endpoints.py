"""Endpoints about repos as a whole: create, info, history, branches, and the validation of cards' YAML metadata.

`info` is what `model_info`/`dataset_info`/`repo_info` parse (and what `snapshot_download` lists): the resolved commit
`sha`, the file names in `siblings`, and `cardData`/`tags` from the README's YAML front matter.
`HfApi.create_commit` posts every README.md it is about to commit to `/api/validate-yaml` and refuses to commit when
the answer is 400, so invalid metadata fails before any upload, as on the Hub.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import yaml

from .access import URL_PREFIX, RepoAccess, repo_url
from .errors import BadRequest, Conflict
from .messages import Request, Response, error_response, json_response, typed

_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)


def _card_metadata(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(metadata, error) of a card: (None, None) without front matter, (None, why) when it is not a YAML mapping."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        return None, f"Invalid YAML in the metadata block of README.md: {error}"
    if data is not None and not isinstance(data, dict):
        return None, f"The metadata block of README.md must be a YAML mapping, not a {type(data).__name__}"
    return data, None


def _repo_type(payload: dict) -> str:
    repo_type = typed(payload, "type", str, "") or "model"
    if repo_type not in URL_PREFIX:
        raise BadRequest(f"Unknown repo type {repo_type!r}; expected model or dataset")
    return repo_type


def _private(payload: dict) -> bool:
    """The visibility a request asks for: `visibility` ("private"/"public") or the older `private` boolean."""
    visibility = typed(payload, "visibility", str, "")
    if visibility:
        if visibility not in ("private", "public"):
            raise BadRequest(f"Unknown visibility {visibility!r}; expected private or public")
        return visibility == "private"
    return typed(payload, "private", bool, False)


class RepoEndpoints:
    """`user` is the account every token maps to: the namespace of repos created without one."""

    def __init__(self, access: RepoAccess, user: str) -> None:
        self.access = access
        self.storage = access.storage
        self.auth = access.auth
        self.user = user

    def create_repo(self, r: Request) -> Response:
        """A new repo; 409 with its `url` in the body when it exists (which `create_repo(exist_ok=True)` accepts)."""
        self.auth.require_write(r.headers, "create a repo")  # before reading a body
        payload = r.json()
        repo_type = _repo_type(payload)
        name = typed(payload, "name", str, "")
        if not name:
            raise BadRequest("Missing repo 'name' in the request body")
        repo_id = f"{typed(payload, 'organization', str, '') or self.user}/{name}"
        private = _private(payload)
        url = repo_url(r, repo_type, repo_id)
        try:
            self.storage.create_repo(repo_type, repo_id, private=private, author=self.user)
        except Conflict as error:
            return error_response(error, extra={"url": url})
        return json_response({"url": url, "name": repo_id, "id": repo_id})

    def validate_yaml(self, r: Request) -> Response:
        """400 with `errors` when a card's YAML metadata does not parse; the client then raises ValueError."""
        self.auth.is_authenticated(r.headers)
        _, error = _card_metadata(typed(r.json(), "content", str, ""))
        body = {"errors": [{"message": error}] if error else [], "warnings": []}
        if error:
            return json_response({"error": error, **body}, status=400, headers={"X-Error-Message": "Invalid YAML"})
        return json_response(body)

    def info(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """`model_info` / `dataset_info` of `revision` (see the module docstring)."""
        repo = self.access.readable(r, repo_type, repo_id)
        commit = self.storage.resolve(repo, revision)
        readme = commit.files.get("README.md")
        card = _card_metadata(self.storage.blobs.read(readme.sha256).decode("utf-8", "replace"))[0] if readme else None
        card_tags = (card or {}).get("tags")
        info: dict = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24], "id": repo_id,
            "author": repo_id.split("/")[0], "sha": commit.oid, "lastModified": commit.date,
            "createdAt": repo.created_at, "private": repo.private, "gated": False, "disabled": False, "downloads": 0,
            "likes": 0, "tags": [str(tag) for tag in card_tags] if isinstance(card_tags, list) else [],
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }
        if card is not None:
            info["cardData"] = card
        if repo_type == "model":
            info["modelId"] = repo_id
        return json_response(info)

    def commits(self, r: Request, repo_type: str, repo_id: str, revision: str) -> Response:
        """History of `revision`, newest first, in one page."""
        repo = self.access.readable(r, repo_type, repo_id)
        return json_response([
            {"id": commit.oid, "title": commit.title, "message": commit.message, "date": commit.date,
             "authors": [{"user": commit.author, "avatar": ""}]}
            for commit in self.storage.history(repo, revision)
        ])

    def create_branch(self, r: Request, repo_type: str, repo_id: str, branch: str) -> Response:
        """A new branch from `startingPoint` (default main); 409 if it exists, which `exist_ok=True` accepts."""
        repo = self.access.writable(r, repo_type, repo_id, f"create branch {branch}")
        self.storage.create_branch(repo, branch, typed(r.json(), "startingPoint", str, "") or None)
        return json_response({"success": True})
