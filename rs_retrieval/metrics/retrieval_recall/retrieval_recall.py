"""Hugging Face `evaluate` metric: image<->text Recall@K and mR for retrieval.

A thin wrapper around `rs_retrieval.evaluation.retrieval_recall` (the exact, chunked
computation), so that the metric can be used with ``evaluate.load`` and ``add_batch``.

Inputs are laid out per caption, so that caption batches can be streamed with ``add_batch``:

* ``predictions``: one text (caption) embedding per row, a list of floats.
* ``references``: the row, in ``image_embeds``, of that caption's image (an int).
* ``image_embeds`` (given to ``compute``, not per batch): the (N, D) image embeddings.
* optional ``ks`` (default ``(1, 5, 10)``) and ``chunk_size`` (default: automatic).

Accumulated inputs travel through Arrow and Python lists, which is fine for evaluation sets
of a few ten thousand captions; for bigger ones call ``retrieval_recall`` directly.
"""

import datasets
import evaluate

from rs_retrieval.evaluation import retrieval_recall

_DESCRIPTION = """\
Recall@K for image-text retrieval in both directions, as in the CLIP / RSICD / RSITMD papers.
image->text R@K is the percentage of images with at least one of their own captions among the
K captions most similar to the image; text->image R@K is the percentage of captions whose image
is among the K images most similar to the caption; mr is the mean of all reported recalls.
Embeddings are L2-normalised inside (cosine similarity); among equal scores the lower index
ranks first, and an image without captions counts as a miss.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: caption embeddings, one list of D floats per caption.
    references: for each caption, the row of its image in `image_embeds` (int).
    image_embeds: (N, D) image embeddings (nested list, numpy array or torch tensor).
    ks: cut-offs K, default (1, 5, 10).
    chunk_size: query rows scored at once (memory bound); default automatic.
Returns:
    i2t_r{K} and t2i_r{K} for each K, and mr: percentages in [0, 100].
Examples:
    >>> metric = evaluate.load("rs_retrieval/metrics/retrieval_recall")
    >>> images = [[1.0, 0.0], [0.0, 1.0]]
    >>> metric.add_batch(predictions=[[0.9, 0.1], [0.2, 0.8]], references=[0, 1])
    >>> metric.add_batch(predictions=[[0.7, 0.3]], references=[1])
    >>> metric.compute(image_embeds=images, ks=(1,))
    {'i2t_r1': 100.0, 't2i_r1': 66.66666666666667, 'mr': 83.33333333333334}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RetrievalRecall(evaluate.Metric):
    """Recall@K and mR of a dual encoder, from caption embeddings streamed in batches."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, image_embeds=None, ks=(1, 5, 10), chunk_size=None):
        if image_embeds is None:
            raise ValueError("retrieval_recall needs the image embeddings: compute(image_embeds=...)")
        return retrieval_recall(image_embeds, predictions, references, ks=ks, chunk_size=chunk_size)


__all__ = ["RetrievalRecall"]
