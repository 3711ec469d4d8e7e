"""Specification of `rs_retrieval.evaluation`: exact Recall@K, chunked, with stable ties, and its reports.

The rank counting is checked against a plain dense reference (full similarity matrix, stable
argsort per row, as in open_clip's retrieval metrics) on random and on tie-heavy inputs.  For
embedding-level comparisons the embeddings are built so that every float32 score is exact
(integers, or integer vectors whose norm is a power of two), so a chunked matmul and a full
matmul give bit-identical scores and ranks can be compared exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rs_retrieval.evaluation import (
    flatten_report,
    languages_of_split,
    markdown_table,
    nest_report,
    query_sets_for,
    ranks,
    recall_from_similarity,
    retrieval_ranks,
    retrieval_recall,
)

METRIC_DIR = Path(__file__).resolve().parents[1] / "rs_retrieval" / "metrics" / "retrieval_recall"
NO_CAPTION = torch.iinfo(torch.int64).max


# --------------------------------------------------------------------------- reference


def dense_ranks_from_similarity(similarity: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks by full stable descending argsort: (i2t ranks (N,), t2i ranks (M,))."""
    similarity = np.asarray(similarity, dtype=np.float64)
    n_images, n_texts = similarity.shape
    # text -> image: position of the caption's own image in its sorted row.
    order = np.argsort(-similarity.T, axis=1, kind="stable")
    t2i = np.argmax(order == index[:, None], axis=1)
    # image -> text: best position among the image's own captions.
    order = np.argsort(-similarity, axis=1, kind="stable")
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(n_texts)[None, :].repeat(n_images, 0), axis=1)
    i2t = np.full(n_images, NO_CAPTION, dtype=np.int64)
    for image in range(n_images):
        own = np.flatnonzero(index == image)
        if own.size:
            i2t[image] = position[image, own].min()
    return i2t, t2i


def dense_recall_from_ranks(i2t: np.ndarray, t2i: np.ndarray, ks=(1, 5, 10)) -> dict[str, float]:
    result = {f"i2t_r{k}": 100.0 * int(np.sum(i2t < k)) / len(i2t) for k in ks}
    result |= {f"t2i_r{k}": 100.0 * int(np.sum(t2i < k)) / len(t2i) for k in ks}
    result["mr"] = sum(result.values()) / len(result)
    return result


def dense_similarity(image_embeds, text_embeds) -> np.ndarray:
    images = F.normalize(torch.as_tensor(image_embeds, dtype=torch.float32), dim=1)
    texts = F.normalize(torch.as_tensor(text_embeds, dtype=torch.float32), dim=1)
    return (images @ texts.T).numpy()


def dense_retrieval_recall(image_embeds, text_embeds, text_image_index, ks=(1, 5, 10)) -> dict[str, float]:
    """The dense reference: full similarity matrix, argsort, positions."""
    index = np.asarray(text_image_index)
    i2t, t2i = dense_ranks_from_similarity(dense_similarity(image_embeds, text_embeds), index)
    return dense_recall_from_ranks(i2t, t2i, ks)


# --------------------------------------------------------------------------- data


def exact_embeddings(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Integer vectors whose squared norm is a power of 4: normalised values and dot
    products are exact in float32, whatever the matmul's summation order."""
    base = rng.integers(-7, 8, size=(n, dim - 8))
    squared = (base**2).sum(axis=1)
    target = 4 ** np.ceil(np.log(squared + 1) / np.log(4)).astype(np.int64)
    rest = target - squared
    pad = np.zeros((n, 8), dtype=np.int64)
    for column in range(8):  # greedy sum of squares: at most 7 terms below 70 000
        root = np.floor(np.sqrt(rest)).astype(np.int64)
        root -= (root * root > rest).astype(np.int64)
        pad[:, column] = root
        rest -= root * root
    assert (rest == 0).all()
    pad *= rng.choice([-1, 1], size=pad.shape)
    vectors = np.concatenate([base, pad], axis=1).astype(np.float32)
    norms = np.sqrt((vectors.astype(np.float64) ** 2).sum(axis=1))
    assert np.all(np.log2(norms) == np.round(np.log2(norms)))
    return vectors


def sign_embeddings(rng: np.random.Generator, n: int, dim: int, nonzero: int) -> np.ndarray:
    """±1 on `nonzero` (a power of 4) coordinates: few distinct, exact scores -> many ties."""
    vectors = np.zeros((n, dim), dtype=np.float32)
    for row in range(n):
        columns = rng.choice(dim, size=nonzero, replace=False)
        vectors[row, columns] = rng.choice([-1.0, 1.0], size=nonzero)
    return vectors


def five_captions(n_images: int) -> np.ndarray:
    return np.repeat(np.arange(n_images), 5)


def ranks_equal(ours: tuple[torch.Tensor, torch.Tensor], reference: tuple[np.ndarray, np.ndarray]) -> None:
    np.testing.assert_array_equal(ours[0].numpy(), reference[0])
    np.testing.assert_array_equal(ours[1].numpy(), reference[1])


CHUNKS = [1, 3, 16, None, 10_000]


# --------------------------------------------------------------------------- agreement with the reference


@pytest.mark.parametrize("n_images, dim", [(1, 16), (2, 16), (7, 24), (40, 32), (90, 64)])
@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_matches_dense_reference_on_random_embeddings(n_images, dim, chunk_size):
    rng = np.random.default_rng(n_images * 100 + dim)
    images = exact_embeddings(rng, n_images, dim)
    texts = exact_embeddings(rng, 5 * n_images, dim)
    index = five_captions(n_images)
    reference = dense_ranks_from_similarity(dense_similarity(images, texts), index)
    ranks_equal(retrieval_ranks(images, texts, index, chunk_size=chunk_size), reference)
    ks = (1, 5, 10)
    assert retrieval_recall(images, texts, index, ks, chunk_size) == dense_recall_from_ranks(*reference, ks)


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_matches_dense_reference_with_uneven_captions(chunk_size):
    """Images with 0..9 captions in shuffled order; the captionless ones are misses."""
    rng = np.random.default_rng(7)
    n_images, n_texts = 30, 120
    index = rng.integers(0, n_images, size=n_texts)
    index[index == 3] = 4  # image 3 surely has no caption
    images = exact_embeddings(rng, n_images, 32)
    texts = exact_embeddings(rng, n_texts, 32)
    reference = dense_ranks_from_similarity(dense_similarity(images, texts), index)
    ours = retrieval_ranks(images, texts, index, chunk_size=chunk_size)
    ranks_equal(ours, reference)
    assert ours[0][3] == NO_CAPTION
    ks = (1, 3, 200)  # K beyond M: every captioned image hits, the captionless ones still miss
    result = retrieval_recall(images, texts, index, ks, chunk_size)
    assert result == dense_recall_from_ranks(*reference, ks)
    assert result["i2t_r200"] == pytest.approx(100.0 * len(np.unique(index)) / n_images)


def test_gaussian_embeddings_match_dense_reference():
    """Real-valued embeddings (not exact): recalls still agree with the reference."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(60, 48, generator=generator)
    texts = images.repeat_interleave(5, 0) + 4.0 * torch.randn(300, 48, generator=generator)
    index = five_captions(60)
    expected = dense_retrieval_recall(images, texts, index)
    assert 0 < expected["t2i_r1"] < 100 and 0 < expected["i2t_r1"] < 100
    for chunk_size in (1, 17, None):
        assert retrieval_recall(images, texts, index, chunk_size=chunk_size) == expected


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_tie_heavy_embeddings_match_dense_reference(chunk_size):
    """4 nonzero ±1 entries in 8 dims: scores in {-1, -.75, ..., 1}; plus duplicated rows."""
    rng = np.random.default_rng(3)
    n_images = 25
    images = sign_embeddings(rng, n_images, 8, 4)
    images[10] = images[2]  # duplicate images: their captions tie on both
    texts = sign_embeddings(rng, 5 * n_images, 8, 4)
    texts[5:10] = texts[0]  # image 1's captions are copies of one of image 0's
    texts[40:45] = images[8]  # image 8's captions are perfect, but tie with other captions
    texts[60] = images[12]
    index = five_captions(n_images)
    similarity = dense_similarity(images, texts)
    assert len(np.unique(similarity)) <= 9
    reference = dense_ranks_from_similarity(similarity, index)
    ranks_equal(retrieval_ranks(images, texts, index, chunk_size=chunk_size), reference)
    assert retrieval_recall(images, texts, index, chunk_size=chunk_size) == dense_recall_from_ranks(*reference)


@pytest.mark.parametrize("levels", [2, 4, None])
@pytest.mark.parametrize("chunk_size", [1, 5, None])
def test_recall_from_similarity_matches_dense_reference(levels, chunk_size):
    """Any score matrix: integers with 2 or 4 levels (ties everywhere), or floats."""
    rng = np.random.default_rng(11)
    n_images, n_texts = 23, 80
    index = rng.integers(0, n_images, size=n_texts)
    if levels is None:
        similarity = rng.standard_normal((n_images, n_texts))
    else:
        similarity = rng.integers(0, levels, size=(n_images, n_texts))
    ks = (1, 2, 5, 10)
    expected = dense_recall_from_ranks(*dense_ranks_from_similarity(similarity, index), ks)
    assert recall_from_similarity(similarity, index, ks, chunk_size) == expected
    tensor = torch.as_tensor(similarity)
    before = tensor.clone()
    assert recall_from_similarity(tensor, index, ks, chunk_size) == expected
    assert torch.equal(tensor, before)  # chunks are ranked in copies
    if levels is not None:  # small integers are exact in half precision
        assert recall_from_similarity(tensor.half(), index, ks, chunk_size) == expected


# --------------------------------------------------------------------------- worked by hand


def hand_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 images (the axes, scaled) and 15 captions.

    Scores are caption components over the caption norm: sqrt(5) for the permutations of
    (2, 1, 0), 3 for (2, 2, 1).  So a = 2/sqrt(5) = .894, b = 1/sqrt(5) = .447, and
    c = 2/3, d = 1/3 for (2, 2, 1).

    text -> image rank (own image's place in the caption's components, ties -> lower image):
      image 0: c0 (2,1,0) 0 | c1 (2,2,1) 0, ties image 1 and wins | c2 (0,2,1) 2 |
               c3 (2,0,1) 0 | c4 (1,0,2) 1
      image 1: c5 (0,2,1) 0 | c6 (2,1,0) 1 | c7 (1,0,2) 2 | c8 (1,2,0) 0 |
               c9 (2,2,1) 1, ties image 0 and loses
      image 2: c10 (0,1,2) 0 | c11 (1,0,2) 0 | c12 (2,1,0) 2 | c13 (2,0,1) 1 | c14 (1,0,-2) 2
      -> rank 0: 7 of 15 (R@1 = 46.67), rank <= 1: 11 of 15 (R@2 = 73.33), R@3 = 100.

    image -> text (sorted captions, ties -> lower caption index):
      image 0: a: c0 c3 c6 c12 c13, c: c1 c9, b: ... -> own c0 first: rank 0
      image 1: a: c2 c5 c8, ...                      -> own c5 after c2: rank 1
      image 2: a: c4 c7 c10 c11, ...                 -> own c10 after c4, c7: rank 2
      -> R@1 = 33.33, R@2 = 66.67, R@3 = 100.
    """
    images = np.array([[3, 0, 0], [0, 0.5, 0], [0, 0, 2]], dtype=np.float32)
    texts = np.array(
        [
            [2, 1, 0], [2, 2, 1], [0, 2, 1], [2, 0, 1], [1, 0, 2],
            [0, 2, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0], [2, 2, 1],
            [0, 1, 2], [1, 0, 2], [2, 1, 0], [2, 0, 1], [1, 0, -2],
        ],
        dtype=np.float32,
    )  # fmt: skip
    return images, texts, five_captions(3)


def test_hand_made_case_ranks_and_recalls():
    images, texts, index = hand_case()
    i2t, t2i = retrieval_ranks(images, texts, index)
    assert i2t.tolist() == [0, 1, 2]
    assert t2i.tolist() == [0, 0, 2, 0, 1, 0, 1, 2, 0, 1, 0, 0, 2, 1, 2]
    result = retrieval_recall(images, texts, index, ks=(1, 2, 3))
    assert result == pytest.approx(
        {
            "i2t_r1": 100 / 3, "i2t_r2": 200 / 3, "i2t_r3": 100.0,
            "t2i_r1": 700 / 15, "t2i_r2": 1100 / 15, "t2i_r3": 100.0,
            "mr": 70.0,  # (33.33 + 66.67 + 100 + 46.67 + 73.33 + 100) / 6 = 420 / 6
        }
    )  # fmt: skip
    default = retrieval_recall(images, texts, index)
    assert default == pytest.approx(
        {"i2t_r1": 100 / 3, "i2t_r5": 100.0, "i2t_r10": 100.0, "t2i_r1": 700 / 15, "t2i_r5": 100.0, "t2i_r10": 100.0,
         "mr": 80.0}
    )
    for chunk_size in (1, 2, 4):
        assert retrieval_recall(images, texts, index, ks=(1, 2, 3), chunk_size=chunk_size) == result


def test_image_without_captions_is_a_miss():
    images = np.eye(3, dtype=np.float32)
    texts = np.eye(3, dtype=np.float32)[[0, 0, 1]]
    result = retrieval_recall(images, texts, [0, 0, 1], ks=(1, 3))
    assert result["i2t_r1"] == pytest.approx(200 / 3)  # image 2 has nothing to retrieve
    assert result["i2t_r3"] == pytest.approx(200 / 3)
    assert result["t2i_r1"] == 100.0


# --------------------------------------------------------------------------- properties and API


def test_perfect_embeddings_give_100():
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(50, 64, generator=generator)
    scales = torch.rand(250, 1, generator=generator) * 10 + 0.1
    texts = images.repeat_interleave(5, 0) * scales  # same direction, any length
    result = retrieval_recall(images, texts, five_captions(50), chunk_size=7)
    assert result == {key: 100.0 for key in result}
    assert all(type(value) is float for value in result.values())


def test_key_names_follow_ks():
    images, texts, index = hand_case()
    assert list(retrieval_recall(images, texts, index)) == [
        "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "mr"]
    result = retrieval_recall(images, texts, index, ks=[3, 1])
    assert list(result) == ["i2t_r3", "i2t_r1", "t2i_r3", "t2i_r1", "mr"]
    assert result["mr"] == pytest.approx(
        (result["i2t_r3"] + result["i2t_r1"] + result["t2i_r3"] + result["t2i_r1"]) / 4)


def test_numpy_torch_and_list_inputs_agree():
    images, texts, index = hand_case()
    expected = retrieval_recall(images, texts, index)
    assert retrieval_recall(torch.from_numpy(images), torch.from_numpy(texts), torch.from_numpy(index)) == expected
    assert retrieval_recall(images.tolist(), texts.tolist(), index.tolist()) == expected
    assert retrieval_recall(images.astype(np.float64), texts.astype(np.float16), index.astype(np.int32)) == expected
    grad = torch.from_numpy(texts).requires_grad_()
    assert retrieval_recall(torch.from_numpy(images), grad, torch.from_numpy(index), device="cpu") == expected


def test_scale_invariance():
    """Normalised inside: rescaling rows (by powers of 2, so bit-exactly) changes nothing."""
    rng = np.random.default_rng(5)
    images = rng.standard_normal((20, 16)).astype(np.float32)
    texts = rng.standard_normal((100, 16)).astype(np.float32)
    index = five_captions(20)
    expected = retrieval_recall(images, texts, index)
    powers = (2.0 ** rng.integers(-3, 4, size=(100, 1))).astype(np.float32)  # exact rescaling
    assert retrieval_recall(images * 4.0, texts * powers, index) == expected


@pytest.mark.parametrize(
    "images, texts, index, kwargs, error, match",
    [
        (np.ones((3, 4)), np.ones((15, 5)), five_captions(3), {}, ValueError, "embedding sizes differ"),
        (np.ones(4), np.ones((15, 4)), five_captions(3), {}, ValueError, "image_embeds must be 2-D"),
        (np.ones((0, 4)), np.ones((15, 4)), five_captions(3), {}, ValueError, "image_embeds is empty"),
        (np.ones((3, 4)), np.ones((0, 4)), np.zeros(0, dtype=int), {}, ValueError, "text_embeds is empty"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3)[:-1], {}, ValueError,
         "14 entries but there are 15 captions"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3) + 1, {}, ValueError, "value 3 is out of range"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3) - 1, {}, ValueError, "value -1 is out of range"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3).astype(float), {}, TypeError, "must hold integers"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3)[:, None], {}, ValueError, "must be 1-D"),
        (np.full((3, 4), np.nan), np.ones((15, 4)), five_captions(3), {}, ValueError,
         "image_embeds contains 12 non-finite"),
        (np.ones((3, 4)), np.full((15, 4), np.inf), five_captions(3), {}, ValueError,
         "text_embeds contains 60 non-finite"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3), {"ks": ()}, ValueError, "ks is empty"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3), {"ks": (0, 1)}, ValueError, "positive integer"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3), {"ks": (1, 1)}, ValueError, "duplicates"),
        (np.ones((3, 4)), np.ones((15, 4)), five_captions(3), {"chunk_size": 0}, ValueError, "chunk_size"),
        ([[1.0, 2.0], [1.0]], np.ones((15, 2)), five_captions(3), {}, ValueError, "rectangular"),
    ],
)
def test_input_validation(images, texts, index, kwargs, error, match):
    with pytest.raises(error, match=match):
        retrieval_recall(images, texts, index, **kwargs)


def test_recall_from_similarity_validation():
    with pytest.raises(ValueError, match="similarity must be 2-D"):
        recall_from_similarity(np.ones(5), [0] * 5)
    with pytest.raises(ValueError, match="similarity contains 1 non-finite"):
        recall_from_similarity(np.array([[1.0, np.nan]]), [0, 0])
    with pytest.raises(ValueError, match="3 entries but there are 2 captions"):
        recall_from_similarity(np.ones((1, 2)), [0, 0, 0])


# --------------------------------------------------------------------------- evaluate module


@pytest.mark.parametrize("path", [METRIC_DIR, METRIC_DIR / "retrieval_recall.py"])
def test_evaluate_module_matches_function(path):
    evaluate = pytest.importorskip("evaluate")
    metric = evaluate.load(str(path), keep_in_memory=True)
    rng = np.random.default_rng(2)
    images = rng.standard_normal((12, 8)).astype(np.float32)
    texts = images.repeat(5, axis=0) + rng.standard_normal((60, 8)).astype(np.float32)
    index = five_captions(12)
    for start in range(0, 60, 25):  # streamed caption batches
        metric.add_batch(predictions=texts[start : start + 25], references=index[start : start + 25])
    result = metric.compute(image_embeds=images, ks=(1, 2, 5))
    assert result == retrieval_recall(images, texts, index, ks=(1, 2, 5))
    # one-shot form, with default ks
    result = metric.compute(predictions=texts.tolist(), references=index.tolist(),
                            image_embeds=torch.from_numpy(images))
    assert result == retrieval_recall(images, texts, index)
    assert math.isclose(result["mr"], sum(v for k, v in result.items() if k != "mr") / 6)


def test_evaluate_module_requires_image_embeds():
    evaluate = pytest.importorskip("evaluate")
    metric = evaluate.load(str(METRIC_DIR), keep_in_memory=True)
    with pytest.raises(ValueError, match="image_embeds"):
        metric.compute(predictions=[[1.0, 0.0]], references=[0])


# --------------------------------------------------------------------------- ties, zeros, uneven captions, any chunk


def _integer_case(seed: int, n_images: int, n_texts: int, dim: int = 6):
    """Entries in {-1, 0, 1}, not normalised: every score is a small integer, exact whatever the matmul, with ties
    everywhere.  Some rows are zero vectors (all their scores 0) or duplicates; captions are spread unevenly over
    the images in shuffled order, and a quarter of the images have none."""
    rng = np.random.default_rng(seed)
    images = rng.integers(-1, 2, size=(n_images, dim)).astype(np.float32)
    texts = rng.integers(-1, 2, size=(n_texts, dim)).astype(np.float32)
    images[rng.random(n_images) < 0.1] = 0.0
    texts[rng.random(n_texts) < 0.1] = 0.0
    if n_images > 2:
        images[-1] = images[0]
    if n_texts > 2:
        texts[1::5] = texts[0]
    owners = n_images - n_images // 4
    index = rng.integers(0, owners, size=n_texts)
    index[: min(owners, n_texts)] = np.arange(min(owners, n_texts))
    return torch.from_numpy(images), torch.from_numpy(texts), torch.from_numpy(rng.permutation(index))


@pytest.mark.parametrize("n_images, n_texts", [(1, 1), (1, 7), (2, 3), (5, 11), (37, 185), (130, 257)])
@pytest.mark.parametrize("chunk_size", [1, 2, 7, None])
def test_embedding_and_similarity_ranks_match_the_dense_reference_on_tie_heavy_integers(n_images, n_texts,
                                                                                       chunk_size):
    images, texts, index = _integer_case(n_images * 7 + n_texts, n_images, n_texts)
    similarity = images @ texts.T
    reference = dense_ranks_from_similarity(similarity.numpy(), index.numpy())
    ranks_equal(ranks.embedding_ranks(images, texts, index, chunk_size), reference)
    ranks_equal(ranks.similarity_ranks(similarity, index, chunk_size), reference)
    ranks_equal(ranks.similarity_ranks(similarity.to(torch.int64), index, chunk_size), reference)


def test_every_score_equal():
    """Zero vectors only: every score is 0, so a rank is the number of lower indices (own captions aside)."""
    images, texts = torch.zeros(9, 4), torch.zeros(23, 4)
    index = torch.arange(23) % 9
    i2t, t2i = ranks.embedding_ranks(images, texts, index, chunk_size=2)
    np.testing.assert_array_equal(t2i.numpy(), index.numpy())  # the images before a caption's own
    np.testing.assert_array_equal(i2t.numpy(), np.arange(9))  # image i's first caption is caption i


def _tie_heavy_shuffled_case(n_images: int = 40, captions: int = 6):
    """Sign embeddings (scores on a grid of 9 values, many exactly 0) with captions in shuffled order."""
    rng = np.random.default_rng(5)
    images = sign_embeddings(rng, n_images, 8, 4)
    texts = sign_embeddings(rng, captions * n_images, 8, 4)
    texts[::7] = images[rng.integers(0, n_images, size=len(texts[::7]))]  # perfect matches that tie elsewhere
    index = rng.permutation(np.repeat(np.arange(n_images), captions))
    return images, texts, index


@pytest.mark.parametrize("chunk_size", [1, 3, 16, None])
def test_shuffled_tie_heavy_captions_match_the_dense_reference(chunk_size):
    images, texts, index = _tie_heavy_shuffled_case()
    reference = dense_ranks_from_similarity(dense_similarity(images, texts), index)
    ranks_equal(retrieval_ranks(images, texts, index, chunk_size=chunk_size), reference)


def _flushing_denormals() -> None:
    """Denormals flushed to zero on this thread (the caller turns it off again), or a skip."""
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")


def test_flushed_denormals_still_rank_ties_at_zero_exactly():
    images, texts, index = _tie_heavy_shuffled_case()
    similarity = dense_similarity(images, texts)
    assert (similarity[index, np.arange(len(index))] == 0).any()  # some own-caption scores are exactly 0
    reference = dense_ranks_from_similarity(similarity, index)
    _flushing_denormals()
    try:
        ours = retrieval_ranks(images, texts, index, chunk_size=2)
    finally:
        torch.set_flush_denormal(False)
    ranks_equal(ours, reference)


def test_flushed_denormals_do_not_turn_close_scores_into_ties():
    """Caption 0 scores 1.2e-38 with its image and 1.5e-38 with image 1: normal numbers whose difference is a
    denormal, which a flushed subtraction would read as a tie.  The count compares them instead."""
    images = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    texts = torch.tensor([[1.2e-38, 1.5e-38, 1.0], [0.0, 0.0, 1.0]])
    index = torch.tensor([0, 1])
    similarity = (images @ texts.T).numpy()
    reference = dense_ranks_from_similarity(similarity, index.numpy())
    assert reference[1][0] == 1  # image 1 is ahead of caption 0's own
    _flushing_denormals()
    try:
        ours = retrieval_ranks(images, texts, index)
        from_similarity = recall_from_similarity(similarity, index, ks=(1,))
    finally:
        torch.set_flush_denormal(False)
    ranks_equal(ours, reference)
    assert from_similarity == dense_recall_from_ranks(*reference, ks=(1,))


def test_recall_from_similarity_compares_integers_exactly():
    """2**53 and 2**53 + 1 are one float64; as int64 they are not."""
    similarity = torch.tensor([[2**53], [2**53 + 1]], dtype=torch.int64)
    assert recall_from_similarity(similarity, [0], ks=(1,))["t2i_r1"] == 0.0


def test_default_chunks_cover_long_rows(monkeypatch):
    """More candidates than the default chunk holds scores: one query row per chunk, still exact."""
    monkeypatch.setattr(ranks, "_CHUNK_ELEMENTS", 16)
    images, texts, index = _integer_case(9, 12, 40)
    ranks_equal(ranks.embedding_ranks(images, texts, index),
                dense_ranks_from_similarity((images @ texts.T).numpy(), index.numpy()))


# --------------------------------------------------------------------------- reports and the split protocol


REPORT = {
    "en": {"i2t_r1": 10.0, "i2t_r5": 30.0, "i2t_r10": 50.0, "t2i_r1": 5.0, "t2i_r5": 20.0, "t2i_r10": 40.0, "mr": 25.0},
    "en_ar": {"i2t_r1": 1.0, "mr": 3.0},
    "en+ar": {"i2t_r1": 12.0, "mr": 27.0},
}


def test_flatten_report_gives_the_trainer_log_keys():
    flat = flatten_report(REPORT, "eval")
    assert flat["eval_en_i2t_r1"] == 10.0 and flat["eval_en+ar_mr"] == 27.0 and flat["eval_en_ar_mr"] == 3.0
    assert flat["eval_mr"] == pytest.approx((25.0 + 3.0 + 27.0) / 3)
    assert len(flat) == 7 + 2 + 2 + 1
    assert flatten_report({}, "test") == {"test_mr": 0.0}


def test_nest_report_inverts_flatten_report():
    logged = flatten_report(REPORT, "eval") | {"eval_loss": 1.5, "eval_runtime": 2.0, "epoch": 3.0, "step": 10}
    assert nest_report(logged, "eval", REPORT) == REPORT
    assert list(nest_report(logged, "eval", ["en+ar", "en"])) == ["en+ar", "en"]  # the order asked for
    assert nest_report(logged, "eval", ["en", "ar"]) == {"en": REPORT["en"]}  # sets without a key are left out
    assert nest_report(logged, "test", REPORT) == {}


def test_markdown_table_has_one_row_per_query_set():
    table = markdown_table([("en", REPORT["en"])]).splitlines()
    assert table[0].startswith("| queries | i2t R@1 |") and table[0].endswith("| mR |")
    assert table[2] == "| en | 10.00 | 30.00 | 50.00 | 5.00 | 20.00 | 40.00 | 25.00 |"


def test_languages_of_split_and_query_sets():
    datasets = pytest.importorskip("datasets")
    split = datasets.Dataset.from_dict({"image_id": [0], "captions_en": [["a"]], "captions_ar": [["b"]]})
    assert languages_of_split(split) == ["en", "ar"]
    assert query_sets_for(["en", "ar"]) == {"en": ["en"], "ar": ["ar"], "en+ar": ["en", "ar"]}
    assert query_sets_for(["en"]) == {"en": ["en"]}
