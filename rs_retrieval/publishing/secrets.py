"""What may leave the machine in a push: no file that holds a Hub token in use, no symbolic link, no pickle.

Every push lists its files with `published_files` (links are refused, not followed, so nothing outside the folder
is published) and checks them with `refuse_secrets` before the Hub is contacted: the raw bytes of each file, and
of the card, are searched for every token this machine would use (the one given, HF_TOKEN, the `hf auth login`
tokens). A token is never part of a message.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .hub_errors import PublishError

#: Pickled files (training arguments, optimizer and RNG state, legacy weights): they can run code when loaded and
#: the training arguments may hold a token, so a push never publishes them.
PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt", "*.joblib")
#: Shorter strings are not looked for: they would match by chance, and no Hub token is that short.
MIN_TOKEN_LENGTH = 8
_CHUNK = 1024 * 1024


def stored_token() -> str | None:
    """The token huggingface_hub would send: HF_TOKEN, or the one `hf auth login` stored."""
    from huggingface_hub.utils import get_token

    return get_token()


def _login_tokens() -> list[str]:
    try:
        from huggingface_hub.utils import get_stored_tokens
    except ImportError:
        return []
    return list(get_stored_tokens().values())


def tokens_in_use(token: str | None = None) -> list[str]:
    """Every token that could be sent (or leak) from this machine: `token`, the environment's, the stored ones."""
    candidates = [token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN"), stored_token(),
                  *_login_tokens()]
    return sorted({c.strip() for c in candidates if c and len(c.strip()) >= MIN_TOKEN_LENGTH})


def _holds(path: Path, needles: Sequence[bytes]) -> bool:
    """Whether the file's raw bytes contain any needle; read in chunks that overlap, so no match is split."""
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = tail + chunk
            if any(n in window for n in needles):
                return True
            tail = window[-overlap:] if overlap else b""
    return False


def _refusal(name: str) -> PublishError:
    return PublishError(f"{name} contains the Hub token in use, so it is not published: remove the token from it "
                        "(or the file from the folder) and push again. Nothing was sent.")


def refuse_secrets(files: Iterable[Path], tokens: Sequence[str], texts: dict[str, str] | None = None) -> None:
    """Raise `PublishError` naming the first file (or generated text, by its repo path) that holds a token."""
    needles = [t.encode("utf-8") for t in tokens]
    if not needles:
        return
    for name, text in (texts or {}).items():
        if any(n in text.encode("utf-8") for n in needles):
            raise _refusal(name)
    for path in files:
        if _holds(path, needles):
            raise _refusal(str(path))


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def published_files(folder: Path, excluded: Sequence[str] = ()) -> list[Path]:
    """The files below `folder` whose name and folders match none of `excluded`, sorted.

    A symbolic link among them (file or folder) raises `PublishError` naming it: it would publish, or let the
    Hub client read, whatever it points to. Excluded folders are not entered.
    """
    files = []
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not _excluded(name, excluded))
        for name in [*folders, *names]:
            path = Path(root) / name
            if path.is_symlink() and not _excluded(name, excluded):
                raise PublishError(f"{path} is a symbolic link (to {os.readlink(path)}): links are not followed "
                                   "when publishing. Replace it with a copy of the file, or remove it.")
        files += [Path(root) / name for name in names if not _excluded(name, excluded)]
    return sorted(files)


__all__ = ["PICKLE_PATTERNS", "published_files", "refuse_secrets", "stored_token", "tokens_in_use"]
