"""Which code produced a result: recorded beside evaluation reports and in index manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_version() -> dict[str, str | None]:
    """The package version and, when it runs from a git checkout, the short commit."""
    import rs_retrieval

    commit = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(rs_retrieval.__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"rs_retrieval": rs_retrieval.__version__, "git_commit": commit}


__all__ = ["code_version"]
