"""The bidirectional, multi-positive contrastive loss over logits: hand computations, and the global batch of several
processes through the training path."""

from __future__ import annotations

import ast
import math
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from rs_retrieval.modeling import DualEncoderContrastiveLoss, DualEncoderModel
from rs_retrieval.training.distributed import global_batch_loss

REPO = Path(__file__).resolve().parents[1]


def _normalised(rows: int, dim: int = 8, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=generator), dim=-1)


def _hand_row_loss(scores: list[float], positives: list[int]) -> float:
    """-log( sum_{p in positives} exp(s_p) / sum_j exp(s_j) ), written out with plain floats."""
    denominator = sum(math.exp(s) for s in scores)
    return -math.log(sum(math.exp(scores[p]) for p in positives) / denominator)


def _loss(texts: torch.Tensor, images: torch.Tensor, logit_scale: float = 0.0, **ids: torch.Tensor) -> torch.Tensor:
    """The loss on the logits the model computes for these embeddings: cosine times exp(logit_scale)."""
    return DualEncoderContrastiveLoss()(math.exp(logit_scale) * texts @ images.t(), **ids)


def test_one_positive_per_row_is_symmetric_infonce_computed_by_hand():
    texts, images = _normalised(3, seed=1), _normalised(3, seed=2)
    logits = (10.0 * texts @ images.t()).tolist()
    text_to_image = sum(_hand_row_loss(logits[i], [i]) for i in range(3)) / 3
    image_to_text = sum(_hand_row_loss([logits[j][i] for j in range(3)], [i]) for i in range(3)) / 3
    expected = (text_to_image + image_to_text) / 2

    loss = _loss(texts, images, math.log(10.0))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_without_duplicates_it_is_clip_cross_entropy_both_ways():
    logits = torch.randn(6, 6, generator=torch.Generator().manual_seed(3), requires_grad=True)
    labels = torch.arange(6)
    reference = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    (reference_grad,) = torch.autograd.grad(reference, logits)

    for ids in ({}, {"image_ids": torch.arange(6) * 7}, {"caption_ids": torch.arange(6) + 40}):
        loss = DualEncoderContrastiveLoss()(logits, **ids)
        (grad,) = torch.autograd.grad(loss, logits)
        assert loss.item() == pytest.approx(reference.item(), rel=1e-6), ids
        torch.testing.assert_close(grad, reference_grad)


def test_two_captions_of_one_image_are_both_positives():
    # Rows 0 and 1 are two captions of image 7 (its pixels appear twice in the batch), row 2 is image 9.
    texts, images = _normalised(3, seed=3), _normalised(3, seed=4)
    images[1] = images[0]
    image_ids = torch.tensor([7, 7, 9])
    logits = (texts @ images.t()).tolist()  # logit_scale = ln(1) = 0 → scale 1
    positives = {0: [0, 1], 1: [0, 1], 2: [2]}
    text_to_image = sum(_hand_row_loss(logits[i], positives[i]) for i in range(3)) / 3
    image_to_text = sum(_hand_row_loss([logits[j][i] for j in range(3)], positives[i]) for i in range(3)) / 3
    expected = (text_to_image + image_to_text) / 2

    multi_positive = _loss(texts, images, image_ids=image_ids)
    as_negatives = _loss(texts, images)
    assert multi_positive.item() == pytest.approx(expected, rel=1e-5)
    assert multi_positive.item() < as_negatives.item()


def test_loss_is_symmetric_in_images_and_texts():
    texts, images = _normalised(5, seed=5), _normalised(5, seed=6)
    ids = torch.tensor([0, 1, 1, 2, 3])
    forward = _loss(texts, images, 2.0, image_ids=ids)
    swapped = _loss(images, texts, 2.0, image_ids=ids)
    assert forward.item() == pytest.approx(swapped.item(), rel=1e-6)


def test_a_row_without_positive_is_an_error():
    texts, images = _normalised(2), _normalised(2, seed=9)
    with pytest.raises(ValueError, match="at least one positive"):
        _loss(texts, images, image_ids=torch.tensor([0, 1]), text_image_ids=torch.tensor([5, 6]))


@pytest.mark.parametrize("name", ["image_ids", "text_image_ids", "caption_ids"])
def test_ids_of_the_wrong_length_are_an_error_not_a_broadcast(name):
    texts, images = _normalised(3), _normalised(3, seed=9)
    with pytest.raises(ValueError, match=f"{name} has 1 entries"):
        _loss(texts, images, **{name: torch.tensor([0])})


def test_identical_captions_of_different_images_are_not_negatives():
    texts, images = _normalised(3, seed=11), _normalised(3, seed=12)
    texts[1] = texts[0]  # images 0 and 1 were both captioned "there are many green trees"
    caption_ids = torch.tensor([42, 42, 43])
    logits = (texts @ images.t()).tolist()
    positives = {0: [0, 1], 1: [0, 1], 2: [2]}
    text_to_image = sum(_hand_row_loss(logits[i], positives[i]) for i in range(3)) / 3
    image_to_text = sum(_hand_row_loss([logits[j][i] for j in range(3)], positives[i]) for i in range(3)) / 3
    loss = _loss(texts, images, image_ids=torch.tensor([0, 1, 2]), caption_ids=caption_ids)
    assert loss.item() == pytest.approx((text_to_image + image_to_text) / 2, rel=1e-5)


def test_the_shipped_modeling_files_know_nothing_of_processes():
    for source in (REPO / "modeling").glob("*.py"):
        tree = ast.parse(source.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(name.startswith("torch.distributed") for name in imported), source.name


# -- multi-process: N processes x B pairs must equal one process with N*B pairs ---------------------------------

WORLD, PER_RANK, DIM = 2, 3, 6


class _GivenEmbeddings(torch.nn.Module):
    """Stands in for the model in `global_batch_loss`: its forward returns the embeddings it is given, normalised;
    the scoring and the loss are the model's own."""

    similarity_logits = DualEncoderModel.similarity_logits

    def __init__(self, logit_scale: float):
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(logit_scale))
        self.contrastive_loss = DualEncoderContrastiveLoss()

    def forward(self, texts: torch.Tensor, images: torch.Tensor, **ignored: object) -> SimpleNamespace:
        return SimpleNamespace(text_embeds=F.normalize(texts, dim=-1), image_embeds=F.normalize(images, dim=-1))


def _global_batch():
    generator = torch.Generator().manual_seed(123)
    texts = torch.randn(WORLD * PER_RANK, DIM, generator=generator)
    images = torch.randn(WORLD * PER_RANK, DIM, generator=generator)
    ids = torch.tensor([0, 1, 1, 2, 3, 0])  # a repeated image across ranks, and one within rank 0
    captions = torch.tensor([10, 11, 12, 13, 14, 13])  # one caption shared by different images across ranks
    return texts, images, ids, captions


def _leaves(texts: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, _GivenEmbeddings]:
    return texts.clone().requires_grad_(True), images.clone().requires_grad_(True), _GivenEmbeddings(1.5)


def _one_process_loss_and_grads(texts, images, ids, captions):
    """What `DualEncoderModel.forward` computes on the concatenated batch."""
    texts, images, model = _leaves(texts, images)
    outputs = model(texts, images)
    loss = model.contrastive_loss(model.similarity_logits(outputs.text_embeds, outputs.image_embeds), image_ids=ids,
                                  caption_ids=captions)
    loss.backward()
    return loss.detach(), texts.grad, images.grad, model.logit_scale.grad


def _worker(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        texts, images, ids, captions = _global_batch()
        part = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
        texts, images, model = _leaves(texts[part], images[part])
        loss, _ = global_batch_loss(model, {"texts": texts, "images": images, "image_ids": ids[part],
                                            "caption_ids": captions[part]})
        loss.backward()
        scale_grad = model.logit_scale.grad
        # What DDP does to parameter gradients: average over processes.
        dist.all_reduce(scale_grad)
        dist.all_reduce(loss)
        results[rank] = (loss.detach() / WORLD, texts.grad / WORLD, images.grad / WORLD, scale_grad / WORLD)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one_process_over_the_concatenated_batch():
    expected = _one_process_loss_and_grads(*_global_batch())

    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=WORLD, join=True)

    loss = results[0][0]
    assert loss.item() == pytest.approx(expected[0].item(), rel=1e-5)
    # A process's embedding gradient is the sum over all processes' losses; DDP then averages the parameter
    # gradients over WORLD processes, so gradient / WORLD is what reaches the parameters.
    text_grad = torch.cat([results[r][1] for r in range(WORLD)])
    image_grad = torch.cat([results[r][2] for r in range(WORLD)])
    torch.testing.assert_close(text_grad, expected[1], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(image_grad, expected[2], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(results[0][3], expected[3], rtol=1e-4, atol=1e-6)
