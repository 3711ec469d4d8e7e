"""Repo lookup with permission checks, shared by every endpoint that touches a repo."""

from __future__ import annotations

from .auth import Auth
from .messages import Request
from .storage import Repo, Storage

URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def repo_url(r: Request, repo_type: str, repo_id: str) -> str:
    """The repo's web URL as the Hub writes it (`<endpoint>/[datasets/]namespace/name`), which `RepoUrl` parses."""
    return f"{r.base_url}/{URL_PREFIX[repo_type]}{repo_id}"


class RepoAccess:
    """Finds a repo for a request, or raises the error the Hub would (401 bad token, 404/401 RepoNotFound)."""

    def __init__(self, storage: Storage, auth: Auth) -> None:
        self.storage = storage
        self.auth = auth

    def readable(self, r: Request, repo_type: str, repo_id: str) -> Repo:
        self.auth.is_authenticated(r.headers)  # refuse a wrong token before saying anything about the repo
        repo = self.storage.get_repo(repo_type, repo_id)
        self.auth.require_read(r.headers, repo)
        return repo

    def writable(self, r: Request, repo_type: str, repo_id: str, action: str) -> Repo:
        self.auth.require_write(r.headers, f"{action} in {repo_type}s/{repo_id}")
        return self.storage.get_repo(repo_type, repo_id)
