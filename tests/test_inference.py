"""The embedding path owns the model's eval state: callers never switch the train flag themselves."""

import numpy as np
import pytest
import torch
from PIL import Image

from rs_retrieval.inference import embed_images, embed_texts, inference_mode


def test_inference_mode_turns_dropout_off_and_restores_training(tiny_model):
    tiny_model.train()
    with inference_mode(tiny_model) as model:
        assert not model.training and not torch.is_grad_enabled()
    assert tiny_model.training and torch.is_grad_enabled()


def test_inference_mode_restores_the_flag_after_an_error(tiny_model):
    tiny_model.train()
    with pytest.raises(RuntimeError), inference_mode(tiny_model):
        raise RuntimeError("boom")
    assert tiny_model.training


def test_inference_mode_keeps_a_model_in_eval_mode_in_eval_mode(tiny_model):
    tiny_model.eval()
    with inference_mode(tiny_model):
        pass
    assert not tiny_model.training


def test_embeddings_are_the_same_whether_the_model_was_training(tiny_model, tiny_processor):
    # The tiny text tower has dropout 0.1, so a caller's train mode would change the text embeddings.
    images = [Image.fromarray(np.full((40, 40, 3), value, dtype=np.uint8)) for value in (0, 90, 200)]
    texts = ["three airplanes parked next to the runway", "ثلاث طائرات متوقفة بجانب المدرج"]
    tiny_model.eval()
    images_eval, texts_eval = embed_images(tiny_model, tiny_processor, images), embed_texts(
        tiny_model, tiny_processor, texts)
    tiny_model.train()
    images_train, texts_train = embed_images(tiny_model, tiny_processor, images), embed_texts(
        tiny_model, tiny_processor, texts)
    assert tiny_model.training
    torch.testing.assert_close(images_train, images_eval)
    torch.testing.assert_close(texts_train, texts_eval)
