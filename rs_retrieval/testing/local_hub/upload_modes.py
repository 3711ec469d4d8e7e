"""Which files go through LFS: the answer the `preupload` endpoint gives, with the Hub's rules.

The Hub stores a file with git-lfs when it is large (10 MB or more), looks binary, or matches a
`filter=lfs` pattern of the repo's `.gitattributes`; everything else is a regular git blob sent
base64-encoded inside the commit. New repos start with the `.gitattributes` below, as on the Hub.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

UploadMode = Literal["lfs", "regular"]

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

_LFS_PATTERNS = [
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*", "*.mlmodel",
    "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt",
    "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm",
    "*.xz", "*.zip", "*.zst", "*tfevents*", "*.png", "*.jpg", "*.jpeg", "*.webp", "*.tif", "*.tiff", "*.mp3",
    "*.wav", "*.faiss",
]

DEFAULT_GITATTRIBUTES = "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in _LFS_PATTERNS)


def lfs_patterns(gitattributes: str) -> list[str]:
    """The path patterns a `.gitattributes` text sends to LFS (lines with `filter=lfs`)."""
    patterns = []
    for line in gitattributes.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def _matches(path: str, pattern: str) -> bool:
    # Git matches a pattern without a slash against the file name, one with a slash against the whole path.
    if "/" in pattern:
        return fnmatch.fnmatchcase(path, pattern.lstrip("/"))
    return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def looks_binary(sample: bytes) -> bool:
    """Whether the first bytes of a file are not text: a NUL byte, or not UTF-8 (a cut last character is fine)."""
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A sample is cut at 512 bytes and may end inside a multi-byte character.
        return error.start < len(sample) - 3
    return False


def upload_mode(path: str, size: int, sample: bytes, gitattributes: str) -> UploadMode:
    """`lfs` for large, binary or `.gitattributes`-tracked files, `regular` otherwise; empty files are regular."""
    if size == 0:
        return "regular"
    if size >= LFS_SIZE_THRESHOLD or looks_binary(sample):
        return "lfs"
    if any(_matches(path, pattern) for pattern in lfs_patterns(gitattributes)):
        return "lfs"
    return "regular"
