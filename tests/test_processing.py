"""DualEncoderProcessor: one call for images and bilingual text, saved and reloaded whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import IMAGE_SIZE
from transformers import AutoProcessor

from rs_retrieval import DualEncoderImageProcessor, DualEncoderProcessor
from rs_retrieval.processing import ImageConversionError


def _tile(seed: int = 0, size: int = 48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8))


def test_images_and_text_in_one_call(tiny_processor):
    batch = tiny_processor(images=[_tile(0), _tile(1)], text=["three airplanes", "ثلاث طائرات"])
    assert set(batch) == {"pixel_values", "input_ids", "attention_mask"}
    assert batch["pixel_values"].shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert batch["input_ids"].shape[0] == 2 and batch["input_ids"].dtype == torch.long


def test_image_inputs_of_every_kind(tiny_processor, tmp_path):
    path = tmp_path / "tile.png"
    _tile(2).save(path)
    grey16 = Image.fromarray(np.arange(48 * 48, dtype=np.uint16).reshape(48, 48))
    pixels = tiny_processor(images=[str(path), np.asarray(_tile(3)), grey16, _tile(4).convert("P")])["pixel_values"]
    assert pixels.shape == (4, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert pixels.min() >= -1.0 and pixels.max() <= 1.0  # mean 0.5, std 0.5


def test_arabic_spelling_variants_tokenise_identically(tiny_processor):
    plain = tiny_processor(text=["طائرات متوقفة بجانب المدرج"])["input_ids"]
    decorated = tiny_processor(text=["طَائِرَاتٌ مُتَوَقِّفَـــةٌ بِجَانِبِ ٱلمدرج"])["input_ids"]
    assert torch.equal(plain, decorated)


def test_text_is_truncated_to_max_length(tiny_processor):
    ids = tiny_processor(text=["airplanes " * 200])["input_ids"]
    assert ids.shape[1] == tiny_processor.max_length


def test_text_prefix_is_applied_after_normalisation(tiny_tokenizer):
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer,
                                     text_prefix="query: ")
    assert processor.normalize_text("مـدرج") == "query: مدرج"


def test_augmentation_is_off_by_default_and_seeded_when_on(tiny_processor):
    image = _tile(5)
    plain_a = tiny_processor(images=[image])["pixel_values"]
    plain_b = tiny_processor(images=[image])["pixel_values"]
    torch.testing.assert_close(plain_a, plain_b)
    augmented = [tiny_processor(images=[image], augment=True,
                                generator=torch.Generator().manual_seed(s))["pixel_values"]
                 for s in (1, 1, 2)]
    torch.testing.assert_close(augmented[0], augmented[1])
    assert not torch.equal(augmented[0], augmented[2])


def test_bad_images_raise_errors_that_name_the_problem(tiny_processor, tmp_path):
    broken = tmp_path / "cut.jpg"
    _tile(6).save(broken, quality=95)
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(ImageConversionError, match="cut.jpg"):
        tiny_processor(images=[str(broken)])
    with pytest.raises(ImageConversionError, match="5 bands"):
        tiny_processor(images=[np.zeros((8, 8, 5), dtype=np.uint16)])


def test_multi_band_images_use_configured_band_indices(tiny_tokenizer, tmp_path):
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE, band_indices=[3, 2, 1]), tiny_tokenizer)
    bands = np.random.default_rng(0).integers(0, 3000, (20, 20, 6), dtype=np.uint16)
    assert processor(images=[bands])["pixel_values"].shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)
    processor.save_pretrained(tmp_path)
    assert AutoProcessor.from_pretrained(tmp_path).image_processor.band_indices == [3, 2, 1]


def test_empty_calls_are_rejected(tiny_processor):
    with pytest.raises(ValueError, match="images, text or both"):
        tiny_processor()
    with pytest.raises(ValueError, match="empty"):
        tiny_processor(text=[])


def test_save_and_reload_keeps_every_setting(tiny_tokenizer, tmp_path):
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size={"height": 40, "width": 30},
                                                               image_mean=[0.4, 0.4, 0.4]),
                                     tiny_tokenizer, max_length=20, text_prefix="passage: ",
                                     text_normalization={"lowercase": True, "strip_tashkeel": False})
    processor.save_pretrained(tmp_path)
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(reloaded, DualEncoderProcessor)
    assert reloaded.max_length == 20 and reloaded.text_prefix == "passage: "
    assert reloaded.text_normalizer == processor.text_normalizer
    assert reloaded.image_processor.size == {"height": 40, "width": 30}
    texts = ["Three AIRPLANES", "طَائِرَة"]
    torch.testing.assert_close(reloaded(text=texts)["input_ids"], processor(text=texts)["input_ids"])
    torch.testing.assert_close(reloaded(images=[_tile(7)])["pixel_values"],
                               processor(images=[_tile(7)])["pixel_values"])
