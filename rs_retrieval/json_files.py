"""Read a JSON file that a user or a tool wrote, with an error that names the file and says how to fix it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import RsRetrievalError


def read_json_object(path: str | Path, *, what: str, fix: str,
                     error: type[RsRetrievalError] = RsRetrievalError) -> dict[str, Any]:
    """The JSON object in `path`; `error` saying `path is not valid JSON (...)` or `is not <what>`, then `fix`."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as problem:
        raise error(f"{path} is not valid JSON ({problem}): {fix}") from None
    if not isinstance(value, dict):
        raise error(f"{path} is not {what} (a JSON object): {fix}")
    return value


__all__ = ["read_json_object"]
