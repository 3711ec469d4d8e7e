"""Writing matplotlib figures to disk, the same way for every picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(figure: Any, path: str | Path, dpi: int) -> Path:
    """Save `figure` as `path` (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


__all__ = ["save_figure"]
