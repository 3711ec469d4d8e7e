"""Image-text retrieval evaluation: exact Recall@K both ways and mR, its reports, and the split protocol.

- `ranks`: input checks and the rank count (plain comparisons, chunked);
- `recall`: the public metric functions;
- `report`: markdown tables and the Trainer's flat log keys;
- `protocol`: recall of a model on a dataset split, per language and across languages.
"""

from .protocol import evaluate_checkpoint, evaluate_retrieval, flatten_captions, languages_of_split, query_sets_for
from .recall import RECALL_COLUMNS, recall_from_similarity, retrieval_ranks, retrieval_recall
from .report import flatten_report, markdown_table, nest_report

__all__ = [
    "RECALL_COLUMNS",
    "evaluate_checkpoint",
    "evaluate_retrieval",
    "flatten_captions",
    "flatten_report",
    "languages_of_split",
    "markdown_table",
    "nest_report",
    "query_sets_for",
    "recall_from_similarity",
    "retrieval_ranks",
    "retrieval_recall",
]
