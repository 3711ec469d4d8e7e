"""Near-duplicate images by perceptual hash, grouped so that a whole group can go to one split.

RSITMD re-uses RSICD scenes and UCM holds a few repeated tiles; a copy in train and its twin in test would
inflate retrieval scores. `imagehash.phash` gives a 64-bit DCT hash that survives re-encoding and small
radiometric changes; images within `threshold` differing bits are linked, and groups are the connected
components of those links.
"""

from __future__ import annotations

from collections.abc import Sequence

import imagehash
import numpy as np
from PIL import Image

_CHUNK = 256


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit pHash of an image as an unsigned integer."""
    return int(str(imagehash.phash(image)), 16)


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    as_bytes = values.view(np.uint8).reshape(*values.shape, 8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1)


def find_duplicate_groups(hashes: Sequence[int], threshold: int) -> list[list[int]]:
    """Indices of images linked by Hamming distance <= threshold, as groups of two or more, sorted.

    All pairs are compared (in chunks, vectorised): 17k images take a few seconds, and no pair is missed
    as it could be with bucketed approximate search.
    """
    count = len(hashes)
    codes = np.array(hashes, dtype=np.uint64)
    parent = list(range(count))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for start in range(0, count, _CHUNK):
        block = codes[start : start + _CHUNK]
        distances = _popcount(block[:, None] ^ codes[None, :])
        rows, columns = np.nonzero(distances <= threshold)
        for row, column in zip(rows.tolist(), columns.tolist()):
            first, second = root(start + row), root(column)
            if first != second:
                parent[max(first, second)] = min(first, second)
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(root(index), []).append(index)
    return sorted((members for members in groups.values() if len(members) > 1), key=lambda members: members[0])


def group_partition(count: int, duplicate_groups: Sequence[Sequence[int]]) -> list[list[int]]:
    """Every index in exactly one group: the duplicate groups plus a singleton for each other index."""
    grouped = {index for group in duplicate_groups for index in group}
    groups = [list(group) for group in duplicate_groups]
    groups += [[index] for index in range(count) if index not in grouped]
    return sorted(groups, key=lambda group: min(group))


__all__ = ["find_duplicate_groups", "group_partition", "perceptual_hash"]
