"""Recall reports: markdown tables, and the conversion between the nested report and the Trainer's flat log keys.

The nested report is ``{query_set: {metric: value}}`` (what `evaluate_retrieval` returns and `--out` writes); the
Trainer logs it flat, as ``<prefix>_<query_set>_<metric>`` (``eval_en_i2t_r1``, ``eval_en+ar_mr``) plus
``<prefix>_mr``, the mean mR over the query sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .recall import RECALL_COLUMNS

# A flat key's tail after the prefix: the query set, then a recall key (`i2t_r<K>`, `t2i_r<K>` or `mr`).
_SET_AND_METRIC = re.compile(r"(?P<query_set>.+)_(?P<metric>(?:i2t|t2i)_r\d+|mr)")


def markdown_table(rows: Sequence[tuple[str, Mapping[str, float]]], first_column: str = "queries") -> str:
    """A markdown recall table in the method's shape, one row per (label, metrics)."""
    header = f"| {first_column} | " + " | ".join(title for _, title in RECALL_COLUMNS) + " |"
    rule = "|---|" + "|".join("---:" for _ in RECALL_COLUMNS) + "|"
    lines = [header, rule]
    for label, metrics in rows:
        lines.append(f"| {label} | " + " | ".join(f"{metrics[key]:.2f}" for key, _ in RECALL_COLUMNS) + " |")
    return "\n".join(lines)


def flatten_report(results: Mapping[str, Mapping[str, float]], prefix: str = "eval") -> dict[str, float]:
    """``{query_set: {metric: value}}`` as flat log keys ``<prefix>_<query_set>_<metric>``, plus ``<prefix>_mr``:
    the mean of the query sets' mR (0.0 when there is none), which ``metric_for_best_model="mr"`` reads."""
    flat = {f"{prefix}_{query_set}_{metric}": value
            for query_set, values in results.items() for metric, value in values.items()}
    flat[f"{prefix}_mr"] = sum(values["mr"] for values in results.values()) / max(len(results), 1)
    return flat


def nest_report(metrics: Mapping[str, float], prefix: str, query_sets: Iterable[str]) -> dict[str, dict[str, float]]:
    """The recall keys ``<prefix>_<query_set>_<metric>`` of the given query sets as ``{query_set: {metric: value}}``,
    in the order of ``query_sets``.

    The inverse of `flatten_report`: other keys (``<prefix>_mr``, ``<prefix>_loss``, ``epoch``, ...) are left out,
    and so are query sets without a key.  A key is split at its recall key, so query sets that extend one another
    (``en`` and ``en_ar``) never mix.
    """
    nested: dict[str, dict[str, float]] = {query_set: {} for query_set in query_sets}
    head = f"{prefix}_"
    for key, value in metrics.items():
        match = _SET_AND_METRIC.fullmatch(key[len(head):]) if key.startswith(head) else None
        if match and match["query_set"] in nested:
            nested[match["query_set"]][match["metric"]] = value
    return {query_set: values for query_set, values in nested.items() if values}


__all__ = ["flatten_report", "markdown_table", "nest_report"]
