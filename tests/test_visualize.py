"""Explanations and pictures: attention rollout and query relevance, Arabic text rendering, t-SNE, retrieval grids."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from commands import visualize
from PIL import Image
from tiny_models import IMAGE_SIZE, tiny_config
from transformers import CLIPVisionConfig, DeiTConfig, SwinConfig

from rs_retrieval import DualEncoderConfig, DualEncoderModel
from rs_retrieval.explain import (
    AttentionMap,
    UnsupportedTowerError,
    arabic_font,
    arabic_font_path,
    attention_map,
    attention_rollout,
    display_text,
    overlay_heatmap,
    text_relevance,
)
from rs_retrieval.explain.attention import title_band
from rs_retrieval.explain.fonts import has_arabic_glyphs, renderer_shapes_text, shape_for_ltr
from rs_retrieval.explain.grid import grid_size

GRID = IMAGE_SIZE // 5  # tiny ViT: 30 px images, 5 px patches
ENGLISH = "three airplanes parked next to the runway"
ARABIC = "ثلاث طائرات متوقفة بجانب المدرج"


@pytest.fixture(scope="module")
def synthetic_test_split():
    from rs_retrieval.data.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(splits={"test": 2}, image_size=32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_tokenizer, synthetic_test_split):
    """A saved tiny checkpoint and the synthetic test split on disk, shared by the command tests."""
    from rs_retrieval import DualEncoderImageProcessor, DualEncoderProcessor

    root = tmp_path_factory.mktemp("viz")
    torch.manual_seed(0)
    DualEncoderModel(tiny_config(len(tiny_tokenizer))).save_pretrained(root / "model")
    DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer, max_length=24).save_pretrained(
        root / "model")
    synthetic_test_split.save_to_disk(str(root / "data"))
    return root


def _pixels(batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))


# -- attention maps -----------------------------------------------------------------------------------------------


def test_rollout_maps_are_non_negative_on_the_patch_grid_and_sum_to_one(tiny_model):
    maps = attention_rollout(tiny_model, _pixels())
    assert maps.shape == (2, GRID, GRID)
    assert (maps >= 0).all()
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(2, dtype=maps.dtype))
    assert tiny_model.vision_model.config._attn_implementation == "sdpa", "eager only for that call"


def test_relevance_changes_with_the_query_and_leaves_weights_alone(tiny_model, tiny_processor, synthetic_test_split):
    image = synthetic_test_split["test"][0]["image"]
    english = attention_map(tiny_model, tiny_processor, image, ENGLISH)
    arabic = attention_map(tiny_model, tiny_processor, image, ARABIC)
    river = attention_map(tiny_model, tiny_processor, image, "a river winds through green land")
    for amap in (english, arabic, river):
        assert amap.method == "relevance" and amap.grid.shape == (GRID, GRID)
        assert (amap.grid >= 0).all() and amap.grid.sum() == pytest.approx(1.0)
        assert amap.display.min() == 0.0 and amap.display.max() == 1.0
    assert not np.allclose(english.grid, river.grid, rtol=0, atol=1e-7)
    assert not np.allclose(english.grid, arabic.grid, rtol=0, atol=1e-7)
    assert english.score != river.score
    assert all(p.grad is None for p in tiny_model.parameters()), "gradients are taken w.r.t. attentions only"
    rollout = attention_map(tiny_model, tiny_processor, image)
    assert rollout.method == "rollout" and rollout.score is None


def test_relevance_needs_one_text_or_one_per_image(tiny_model):
    with pytest.raises(ValueError, match="3 texts for 2 images"):
        text_relevance(tiny_model, _pixels(2), torch.randint(5, 50, (3, 6)))


@pytest.mark.parametrize(
    "vision, pooling, prefix",
    [
        (DeiTConfig(image_size=30, patch_size=5, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=37), "cls", 2),
        (CLIPVisionConfig(image_size=30, patch_size=5, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=37), "pooler", 1),
    ],
    ids=["deit (cls + distillation token)", "clip-vision"],
)
def test_other_vit_like_towers_give_maps(vision, pooling, prefix, tiny_tokenizer):
    config = tiny_config(len(tiny_tokenizer))
    config = DualEncoderConfig(vision_config=vision.to_dict(), text_config=config.text_config.to_dict(),
                               projection_dim=16, vision_pooling=pooling)
    model = DualEncoderModel(config).eval()
    pixels = _pixels(1)
    attentions = model.get_image_features(pixels, output_attentions=True).attentions
    if attentions:  # under SDPA only the eager switch of the explain functions returns them
        assert attentions[0].shape[-1] == GRID * GRID + prefix
    rollout = attention_rollout(model, pixels)
    relevance, _ = text_relevance(model, pixels, torch.tensor([[0, 5, 6, 7, 2]]))
    for maps in (rollout, relevance):
        assert maps.shape == (1, GRID, GRID) and maps.sum().item() == pytest.approx(1.0)


def test_a_swin_tower_is_refused_by_name(tiny_tokenizer):
    swin = SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4)
    text = tiny_config(len(tiny_tokenizer)).text_config.to_dict()
    config = DualEncoderConfig(vision_config=swin.to_dict(), text_config=text, projection_dim=16,
                               vision_pooling="pooler")
    model = DualEncoderModel(config).eval()
    with pytest.raises(UnsupportedTowerError, match="SwinModel.*ViT-like tower"):
        attention_rollout(model, torch.randn(1, 3, 32, 32))
    with pytest.raises(UnsupportedTowerError, match="SwinModel"):
        text_relevance(model, torch.randn(1, 3, 32, 32), torch.tensor([[0, 5, 6, 2]]))


def test_overlay_has_the_chosen_size():
    image = Image.new("RGB", (64, 64), (120, 120, 120))
    grid = np.zeros((8, 8))
    grid[2, 3] = 1.0
    overlay = overlay_heatmap(image, grid, size=96)
    assert overlay.size == (96, 96) and overlay.mode == "RGB"
    pixels = np.asarray(overlay).astype(int)
    assert pixels[2 * 12 + 6, 3 * 12 + 6].tolist() != pixels[80, 80].tolist(), "the hot patch is coloured differently"


# -- Arabic text ------------------------------------------------------------------------------------------------


def _render(text: str) -> np.ndarray:
    """`text` drawn by matplotlib with the Arabic font, cropped to its ink (greyscale, 0 = ink)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure(figsize=(6, 0.8), dpi=100)
    try:
        figure.text(0.02, 0.5, text, va="center", fontproperties=arabic_font(), fontsize=20)
        figure.canvas.draw()
        grey = np.asarray(figure.canvas.buffer_rgba())[..., :3].mean(axis=-1)
    finally:
        plt.close(figure)
    rows, columns = np.nonzero(grey < 128)
    return grey[rows.min():rows.max() + 1, columns.min():columns.max() + 1]


def test_the_font_has_arabic_glyphs_and_arabic_is_shaped_right_to_left():
    assert has_arabic_glyphs(arabic_font_path())
    shaped = shape_for_ltr(ARABIC)
    assert all("\ufe70" <= ch <= "\ufeff" or ch == " " for ch in shaped), "contextual presentation forms"
    assert shape_for_ltr("سلام") == "\ufee1\ufefc\ufeb3", "visual order, joined forms"
    assert display_text(ENGLISH) == ENGLISH
    assert display_text(ARABIC) == (ARABIC if renderer_shapes_text() else shaped)


def _reference(text: str) -> str:
    """Independently shaped, visual-order Arabic, forced left to right where the renderer would reorder it."""
    shaped = shape_for_ltr(text)
    return f"\u202d{shaped}\u202c" if renderer_shapes_text() else shaped


def test_arabic_renders_joined_and_right_to_left():
    drawn = _render(display_text(ARABIC))
    reference = _render(_reference(ARABIC))
    assert drawn.shape == reference.shape and np.abs(drawn - reference).mean() < 2.0
    logical_left_to_right = _render(f"\u202d{ARABIC}\u202c" if renderer_shapes_text() else ARABIC)
    assert logical_left_to_right.shape != drawn.shape or np.abs(logical_left_to_right - drawn).mean() > 10


@pytest.mark.filterwarnings("ignore:Glyph 57344")  # the missing-glyph reference is missing on purpose
def test_arabic_renders_glyphs_not_boxes():
    drawn = _render(display_text(ARABIC))
    boxes = _render("\ue000" * len(ARABIC))  # private-use code points: the font's missing-glyph box
    assert drawn.shape != boxes.shape or not np.array_equal(drawn, boxes)
    letters = [_render(display_text(letter)) for letter in ("ب", "ج", "س", "ل")]
    for n, first in enumerate(letters):
        for second in letters[n + 1:]:
            assert first.shape != second.shape or not np.array_equal(first, second), "distinct letters look distinct"
    box = _render("\ue000")
    assert all(letter.shape != box.shape or not np.array_equal(letter, box) for letter in letters)


# -- the visualize command ------------------------------------------------------------------------------------


def _common(saved, out) -> list[str]:
    return ["--model", str(saved / "model"), "--dataset", str(saved / "data"), "--split", "test", "--out", str(out)]


@pytest.mark.parametrize("extra", [[], ["--text", ARABIC]], ids=["rollout", "arabic query"])
def test_attention_command_writes_a_figure(saved, tmp_path, capsys, extra):
    out = tmp_path / "attention.png"
    assert visualize.main(["attention", *_common(saved, out), "--row", "0", "--size", "96", *extra]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as picture:
        assert picture.size == (2 * 96, 96 + title_band(96))


def test_attention_command_overlay_only_from_an_image_file(saved, tmp_path):
    source = tmp_path / "tile.png"
    Image.new("RGB", (40, 40), (200, 180, 90)).save(source)
    out = tmp_path / "overlay.png"
    assert visualize.main(["attention", *_common(saved, out), "--image", str(source), "--text", ENGLISH,
                           "--size", "64", "--overlay-only"]) == 0
    with Image.open(out) as picture:
        assert picture.size == (64, 64)


def test_tsne_command_writes_a_picture_and_one_csv_row_per_embedding(saved, synthetic_test_split, tmp_path, capsys):
    out = tmp_path / "tsne.png"
    table = tmp_path / "coordinates" / "tsne.csv"
    assert visualize.main(["tsne", *_common(saved, out), "--languages", "en,ar", "--color-by", "label",
                           "--max-images", "12", "--csv", str(table)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and f"wrote {table}" in printed
    with Image.open(out) as picture:
        assert picture.size == (800, 640)
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    split = synthetic_test_split["test"].select(range(12))
    captions = sum(len(c) for c in split["captions_en"]) + sum(len(c) for c in split["captions_ar"])
    assert len(rows) == 12 + captions
    assert {r["kind"] for r in rows} == {"image", "text"} and {r["language"] for r in rows} == {"", "en", "ar"}
    assert all(np.isfinite(float(r["x"])) and np.isfinite(float(r["y"])) for r in rows)
    assert {r["label"] for r in rows if r["kind"] == "image"} >= {"airport", "farmland"}


def test_grid_command_marks_the_ground_truth_of_a_dataset_caption(saved, synthetic_test_split, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert visualize.main(["grid", *_common(saved, out), "--caption-row", "3", "--language", "ar", "-k", "4",
                           "--tile", "80"]) == 0
    printed = capsys.readouterr().out
    assert f"query: {synthetic_test_split['test'][3]['captions_ar'][0]}" in printed
    assert printed.count("\n  ") == 4
    with Image.open(out) as picture:
        assert picture.size == grid_size(4, tile=80)


def test_grid_with_a_free_query(saved, tmp_path):
    out = tmp_path / "grid.png"
    assert visualize.main(["grid", *_common(saved, out), "--text", ENGLISH, "-k", "3", "--tile", "64"]) == 0
    with Image.open(out) as picture:
        assert picture.size == grid_size(3, tile=64)
        picture.load()


def test_attention_map_is_a_value_object():
    amap = AttentionMap(grid=np.full((2, 2), 0.25), method="rollout")
    assert amap.display.tolist() == [[0.0, 0.0], [0.0, 0.0]]
