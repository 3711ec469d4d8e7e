"""The bidirectional, multi-positive contrastive loss: hand computations and the multi-process form."""

from __future__ import annotations

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rs_retrieval.modeling import DualEncoderContrastiveLoss, dual_encoder_contrastive_loss


def _normalised(rows: int, dim: int = 8, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(rows, dim, generator=generator), dim=-1)


def _hand_row_loss(scores: list[float], positives: list[int]) -> float:
    """-log( sum_{p in positives} exp(s_p) / sum_j exp(s_j) ), written out with plain floats."""
    denominator = sum(math.exp(s) for s in scores)
    return -math.log(sum(math.exp(scores[p]) for p in positives) / denominator)


def test_one_positive_per_row_is_symmetric_infonce_computed_by_hand():
    texts, images = _normalised(3, seed=1), _normalised(3, seed=2)
    logit_scale = torch.tensor(math.log(10.0))
    logits = (10.0 * texts @ images.t()).tolist()
    text_to_image = sum(_hand_row_loss(logits[i], [i]) for i in range(3)) / 3
    image_to_text = sum(_hand_row_loss([logits[j][i] for j in range(3)], [i]) for i in range(3)) / 3
    expected = (text_to_image + image_to_text) / 2

    loss = dual_encoder_contrastive_loss(texts, images, logit_scale)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


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

    multi_positive = dual_encoder_contrastive_loss(texts, images, torch.tensor(0.0), image_ids=image_ids)
    as_negatives = dual_encoder_contrastive_loss(texts, images, torch.tensor(0.0))
    assert multi_positive.item() == pytest.approx(expected, rel=1e-5)
    assert multi_positive.item() < as_negatives.item()


def test_loss_is_symmetric_in_images_and_texts():
    texts, images = _normalised(5, seed=5), _normalised(5, seed=6)
    ids = torch.tensor([0, 1, 1, 2, 3])
    scale = torch.tensor(2.0)
    forward = dual_encoder_contrastive_loss(texts, images, scale, image_ids=ids)
    swapped = dual_encoder_contrastive_loss(images, texts, scale, image_ids=ids)
    assert forward.item() == pytest.approx(swapped.item(), rel=1e-6)


def test_a_row_without_positive_is_an_error():
    texts, images = _normalised(2), _normalised(2, seed=9)
    with pytest.raises(ValueError, match="at least one positive"):
        dual_encoder_contrastive_loss(texts, images, torch.tensor(0.0),
                                      image_ids=torch.tensor([0, 1]), text_image_ids=torch.tensor([5, 6]))


# -- multi-process: N processes x B pairs must equal one process with N*B pairs ---------------------------------

WORLD, PER_RANK, DIM = 2, 3, 6


def _global_batch():
    generator = torch.Generator().manual_seed(123)
    texts = torch.randn(WORLD * PER_RANK, DIM, generator=generator)
    images = torch.randn(WORLD * PER_RANK, DIM, generator=generator)
    ids = torch.tensor([0, 1, 1, 2, 3, 0])  # a repeated image across ranks, and one within rank 0
    captions = torch.tensor([10, 11, 12, 13, 14, 13])  # one caption shared by different images across ranks
    return texts, images, ids, captions


def _loss_and_grads(texts, images, ids, captions, scale, loss_fn):
    texts = texts.clone().requires_grad_(True)
    images = images.clone().requires_grad_(True)
    scale = scale.clone().requires_grad_(True)
    loss = loss_fn(torch.nn.functional.normalize(texts, dim=-1), torch.nn.functional.normalize(images, dim=-1),
                   scale, image_ids=ids, caption_ids=captions)
    loss.backward()
    return loss.detach(), texts.grad, images.grad, scale.grad


def _worker(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        texts, images, ids, captions = _global_batch()
        part = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
        loss, text_grad, image_grad, scale_grad = _loss_and_grads(
            texts[part], images[part], ids[part], captions[part], torch.tensor(1.5), DualEncoderContrastiveLoss()
        )
        # What DDP does to parameter gradients: average over processes.
        dist.all_reduce(scale_grad)
        dist.all_reduce(loss)
        results[rank] = (loss / WORLD, text_grad / WORLD, image_grad / WORLD, scale_grad / WORLD)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one_process_over_the_concatenated_batch():
    texts, images, ids, captions = _global_batch()
    expected = _loss_and_grads(texts, images, ids, captions, torch.tensor(1.5), DualEncoderContrastiveLoss())

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


def test_identical_captions_of_different_images_are_not_negatives():
    texts, images = _normalised(3, seed=11), _normalised(3, seed=12)
    texts[1] = texts[0]  # images 0 and 1 were both captioned "there are many green trees"
    caption_ids = torch.tensor([42, 42, 43])
    logits = (texts @ images.t()).tolist()
    positives = {0: [0, 1], 1: [0, 1], 2: [2]}
    text_to_image = sum(_hand_row_loss(logits[i], positives[i]) for i in range(3)) / 3
    image_to_text = sum(_hand_row_loss([logits[j][i] for j in range(3)], positives[i]) for i in range(3)) / 3
    loss = dual_encoder_contrastive_loss(texts, images, torch.tensor(0.0), image_ids=torch.tensor([0, 1, 2]),
                                         caption_ids=caption_ids)
    assert loss.item() == pytest.approx((text_to_image + image_to_text) / 2, rel=1e-5)
