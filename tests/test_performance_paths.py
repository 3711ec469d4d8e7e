"""Speed-motivated code paths give the results of the straightforward ones they replaced.

`DualEncoderImageProcessor` builds the batch with one channels-first copy of all images (benchmarks/perf); the
reference here is the per-image path it replaced: each image converted, augmented, resized, made a CHW tensor,
then stacked and normalised; the pixels must be bit-identical.  `embed_texts` batches texts of similar length
together, each distinct text once: each row must equal the text embedded alone up to float rounding, in the
caller's order, and equal texts must get identical rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rs_retrieval import DualEncoderImageProcessor
from rs_retrieval.testing.reference_pixels import per_image_pixels


def _inputs(tmp_path) -> list:
    rng = np.random.default_rng(0)
    path = tmp_path / "tile.jpg"
    Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(path, quality=90)
    return [
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 255, (24, 32), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 255, (36, 36, 4), dtype=np.uint8)),
        rng.integers(0, 4000, (28, 28), dtype=np.uint16),
        str(path),
        Image.fromarray(rng.integers(0, 255, (32, 24, 3), dtype=np.uint8)),  # already the output size
    ]


@pytest.mark.parametrize("augment", [False, True])
def test_batched_pixels_equal_the_per_image_path(tmp_path, augment):
    processor = DualEncoderImageProcessor(size={"height": 32, "width": 24}, image_mean=(0.4, 0.5, 0.6),
                                          image_std=(0.2, 0.25, 0.3))
    images = _inputs(tmp_path)

    def generators() -> list[torch.Generator] | None:
        return [torch.Generator().manual_seed(seed) for seed in range(len(images))] if augment else None

    pixels = processor(images, augment=augment, generator=generators())["pixel_values"]
    assert torch.equal(pixels, per_image_pixels(processor, images, generators()))
    assert pixels.dtype == torch.float32 and pixels.shape == (len(images), 3, 32, 24) and pixels.is_contiguous()


def test_multi_band_batches_equal_the_per_image_path():
    processor = DualEncoderImageProcessor(size=16, band_indices=(3, 2, 1))
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 10000, (20, 20, 6), dtype=np.uint16) for _ in range(3)]
    assert torch.equal(processor(images)["pixel_values"], per_image_pixels(processor, images, None))


def test_numpy_output_matches_tensor_output(tmp_path):
    processor = DualEncoderImageProcessor(size=16)
    images = _inputs(tmp_path)
    as_numpy = processor(images, return_tensors="np")["pixel_values"]
    assert isinstance(as_numpy, np.ndarray)
    np.testing.assert_array_equal(as_numpy, processor(images)["pixel_values"].numpy())


def test_texts_embedded_in_length_sorted_batches_come_back_in_input_order(tiny_model, tiny_processor):
    """Batches of similar length (less padding) change nothing but float rounding: every row matches the text
    embedded on its own, and the order is the caller's."""
    from rs_retrieval.inference import embed_texts

    texts = ["three airplanes parked next to the runway", "a river", "طائرات متوقفة بجانب المدرج",
             "many green trees and a long straight road beside a river with a bridge", "a river", "ملعب", ""]
    batched = embed_texts(tiny_model, tiny_processor, texts, batch_size=3)
    alone = torch.cat([embed_texts(tiny_model, tiny_processor, [text]) for text in texts])
    assert batched.shape == alone.shape
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
    assert torch.equal(batched[1], batched[4])  # equal texts, equal embeddings: an exact tie in evaluation
    assert not torch.allclose(batched[0], batched[1], atol=1e-3)


def test_equal_texts_get_identical_embeddings_whatever_their_neighbours(tiny_model, tiny_processor):
    """Captions repeated across a long list (UCM repeats one in five) must not drift apart by batch padding."""
    from rs_retrieval.inference import embed_texts

    rng = np.random.default_rng(0)
    words = ["river", "road", "trees", "planes", "runway", "houses", "green", "many", "two", "a"]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(60)]
    texts += [texts[5], texts[17], texts[5]]
    embeddings = embed_texts(tiny_model, tiny_processor, texts, batch_size=4)
    assert torch.equal(embeddings[5], embeddings[60]) and torch.equal(embeddings[5], embeddings[62])
    assert torch.equal(embeddings[17], embeddings[61])


def test_text_embedding_refuses_a_non_string_by_name(tiny_model, tiny_processor):
    from rs_retrieval.inference import embed_texts

    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got NoneType"):
        embed_texts(tiny_model, tiny_processor, ["a river", None])
