"""A locked tower is computed once: the cached path trains exactly as the uncached one, and a cache never outlives
the tower or processor it was made for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rs_retrieval.training import RetrievalCollator
from rs_retrieval.training.locked_towers import (
    CACHE_FOLDER,
    build_image_cache,
    build_text_cache,
    is_locked,
    lock_towers_in_eval_mode,
)
from tests.tiny_models import TINY_CORPUS


def rows(count: int = 6) -> list[dict]:
    generator = np.random.default_rng(0)
    english, arabic = TINY_CORPUS[:8], TINY_CORPUS[8:]
    return [{"image": Image.fromarray(generator.integers(0, 255, (40, 40, 3), dtype=np.uint8)), "image_id": n,
             # Two images share a caption: a cache keyed by text serves both.
             "captions_en": [english[n % 4], english[(n + 1) % 8]], "captions_ar": [arabic[n % 8]]}
            for n in range(count)]


def loss_and_gradients(model, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    torch.manual_seed(0)  # the same dropout draws in the tower that trains
    model.train()
    lock_towers_in_eval_mode(model)
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_a_cached_locked_text_tower_gives_the_loss_and_gradients_of_the_uncached_one(tiny_model, tiny_processor,
                                                                                      tmp_path):
    tiny_model.text_model.requires_grad_(False)
    data = rows()
    texts = [c for row in data for lang in ("en", "ar") for c in row[f"captions_{lang}"]]
    cache = build_text_cache(tiny_model, tiny_processor, texts, tmp_path)
    assert len(cache) == len(set(tiny_processor.normalize_text(texts)))
    plain = RetrievalCollator(tiny_processor, ["en", "ar"], augment=True, seed=3)
    cached = RetrievalCollator(tiny_processor, ["en", "ar"], augment=True, seed=3, text_cache=cache)

    plain_batch, cached_batch = plain(data), cached(data)
    assert "input_ids" not in cached_batch and cached_batch["text_pooled_output"].shape[0] == len(data)
    torch.testing.assert_close(cached_batch["pixel_values"], plain_batch["pixel_values"])
    torch.testing.assert_close(cached_batch["caption_ids"], plain_batch["caption_ids"])

    plain_loss, plain_grads = loss_and_gradients(tiny_model, plain_batch)
    cached_loss, cached_grads = loss_and_gradients(tiny_model, cached_batch)
    torch.testing.assert_close(cached_loss, plain_loss, rtol=1e-5, atol=1e-6)
    assert cached_grads.keys() == plain_grads.keys() and not any(k.startswith("text_model.") for k in plain_grads)
    for name, gradient in plain_grads.items():
        torch.testing.assert_close(cached_grads[name], gradient, rtol=1e-4, atol=1e-6, msg=name)


def test_a_cached_locked_vision_tower_gives_the_loss_and_gradients_of_the_uncached_one(tiny_model, tiny_processor,
                                                                                        tmp_path):
    tiny_model.vision_model.requires_grad_(False)
    data = rows()
    cache = build_image_cache(tiny_model, tiny_processor, [r["image"] for r in data], [r["image_id"] for r in data],
                              tmp_path)
    plain = RetrievalCollator(tiny_processor, ["en"], augment=False, seed=1)
    cached = RetrievalCollator(tiny_processor, ["en"], augment=False, seed=1, image_cache=cache)
    plain_loss, plain_grads = loss_and_gradients(tiny_model, plain(data))
    cached_loss, cached_grads = loss_and_gradients(tiny_model, cached(data))
    torch.testing.assert_close(cached_loss, plain_loss, rtol=1e-5, atol=1e-6)
    for name, gradient in plain_grads.items():
        torch.testing.assert_close(cached_grads[name], gradient, rtol=1e-4, atol=1e-6, msg=name)


def test_an_image_cache_cannot_serve_augmented_training(tiny_model, tiny_processor, tmp_path):
    tiny_model.vision_model.requires_grad_(False)
    data = rows(2)
    cache = build_image_cache(tiny_model, tiny_processor, [r["image"] for r in data], [0, 1], tmp_path)
    with pytest.raises(ValueError, match="augmented"):
        RetrievalCollator(tiny_processor, ["en"], augment=True, image_cache=cache)


def test_a_cache_is_read_back_for_the_same_tower_and_processor(tiny_model, tiny_processor, tmp_path):
    tiny_model.text_model.requires_grad_(False)
    first = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS, tmp_path)
    (path,) = (tmp_path / CACHE_FOLDER).iterdir()
    stamp = path.stat().st_mtime_ns
    second = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS[:4], tmp_path)
    assert path.stat().st_mtime_ns == stamp and second.fingerprint == first.fingerprint
    torch.testing.assert_close(second.outputs, first.outputs)


def test_a_changed_tower_or_processor_gets_a_new_cache(tiny_model, tiny_processor, tmp_path):
    tiny_model.text_model.requires_grad_(False)
    original = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS, tmp_path)
    with torch.no_grad():
        for parameter in tiny_model.text_model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    changed_tower = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS, tmp_path)
    tiny_processor.max_length = 5
    changed_processor = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS, tmp_path)
    assert len({original.fingerprint, changed_tower.fingerprint, changed_processor.fingerprint}) == 3
    assert len(list((tmp_path / CACHE_FOLDER).iterdir())) == 3
    assert not torch.allclose(changed_tower.outputs, original.outputs)


def test_a_text_the_cache_lacks_is_named(tiny_model, tiny_processor, tmp_path):
    tiny_model.text_model.requires_grad_(False)
    cache = build_text_cache(tiny_model, tiny_processor, TINY_CORPUS[:2], tmp_path)
    with pytest.raises(KeyError, match="not in the locked-tower cache"):
        cache.lookup(tiny_processor.normalize_text(["a caption never seen"]))


def test_only_a_wholly_frozen_tower_is_locked(tiny_model):
    assert not is_locked(tiny_model.text_model)
    tiny_model.text_model.get_input_embeddings().requires_grad_(False)
    assert not is_locked(tiny_model.text_model)  # --freeze_text_embeddings: the rest still trains
    tiny_model.text_model.requires_grad_(False)
    assert is_locked(tiny_model.text_model)


def test_locked_towers_run_without_dropout_while_the_rest_trains(tiny_model):
    tiny_model.text_model.requires_grad_(False)
    tiny_model.train()
    lock_towers_in_eval_mode(tiny_model)
    assert not tiny_model.text_model.training and tiny_model.vision_model.training and tiny_model.training


def test_training_with_a_locked_text_tower_caches_it_and_ends_where_uncached_training_ends(tmp_path):
    from commands import train
    from safetensors.torch import load_file

    from rs_retrieval.data.synthetic import make_synthetic_dataset

    dataset = tmp_path / "dataset"
    make_synthetic_dataset(splits={"train": 4, "validation": 1, "test": 1}, image_size=32,
                           seed=0).save_to_disk(str(dataset))
    common = ["--dataset", str(dataset), "--image_size", "32", "--per_device_train_batch_size", "16",
              "--max_steps", "4", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end",
              "false", "--seed", "5", "--freeze_text_tower", "--disable_tqdm", "true", "--report_to", "none"]
    assert train.main([*common, "--output_dir", str(tmp_path / "cached")]) == 0
    assert train.main([*common, "--output_dir", str(tmp_path / "uncached"), "--cache_locked_towers", "false"]) == 0

    assert len(list((tmp_path / "cached" / CACHE_FOLDER).glob("text-*.safetensors"))) == 1
    assert not (tmp_path / "uncached" / CACHE_FOLDER).exists()
    cached = load_file(tmp_path / "cached" / "model.safetensors")
    uncached = load_file(tmp_path / "uncached" / "model.safetensors")
    for name in cached:
        torch.testing.assert_close(cached[name], uncached[name], rtol=1e-4, atol=1e-5, msg=name)
