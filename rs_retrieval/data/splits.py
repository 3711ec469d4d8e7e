"""Deterministic, seeded hold-out of whole groups of images (a validation or a test split).

Groups keep near-duplicates together; a lone image is a group of one. The same inputs and seed always give
the same split, independent of dict order or the machine.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def holdout_groups(groups: Sequence[Sequence[int]], fraction: float, seed: int) -> set[int]:
    """Indices of a seeded random selection of groups holding about `fraction` of all items.

    Groups are shuffled (in a canonical order first) and taken while they fit under
    `round(fraction * total)`; a group too large to fit is passed over, so the result never overshoots.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    ordered = sorted((sorted(group) for group in groups if group), key=lambda group: group[0])
    target = round(fraction * sum(len(group) for group in ordered))
    random.Random(seed).shuffle(ordered)
    chosen: set[int] = set()
    for group in ordered:
        if len(chosen) >= target:
            break
        if len(chosen) + len(group) <= target:
            chosen.update(group)
    return chosen


__all__ = ["holdout_groups"]
