"""DualEncoderConfig: any pair of towers, validated values, lossless round-trips."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tiny_models import tiny_config
from transformers import AutoConfig, BertConfig, CLIPVisionConfig, SwinConfig, ViTConfig, XLMRobertaConfig

from rs_retrieval import DualEncoderConfig, DualEncoderModel


def test_defaults_describe_the_embedded_small_model():
    config = DualEncoderConfig()
    assert config.model_type == "rs_dual_encoder"
    assert isinstance(config.vision_config, ViTConfig) and isinstance(config.text_config, BertConfig)
    assert config.logit_scale_init_value == pytest.approx(math.log(1 / 0.07))
    assert config.logit_scale_max == pytest.approx(math.log(100))
    assert config.text_pooling == "cls"


def test_round_trip_keeps_sub_configs(tmp_path):
    config = tiny_config(vocab_size=99, text_pooling="mean", projection_dim=24)
    config.save_pretrained(tmp_path)
    loaded = DualEncoderConfig.from_pretrained(tmp_path)
    assert loaded.projection_dim == 24 and loaded.text_pooling == "mean"
    assert isinstance(loaded.vision_config, ViTConfig) and loaded.vision_config.patch_size == 5
    assert isinstance(loaded.text_config, BertConfig) and loaded.text_config.vocab_size == 99
    assert loaded.to_dict()["vision_config"] == config.to_dict()["vision_config"]
    assert loaded.to_dict()["text_config"] == config.to_dict()["text_config"]


def test_auto_config_resolves_the_model_type(tmp_path):
    tiny_config(vocab_size=50).save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), DualEncoderConfig)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"text_pooling": "max"}, "text_pooling"),
        ({"vision_pooling": "first"}, "vision_pooling"),
        ({"projection_dim": 0}, "projection_dim"),
        ({"logit_scale_init_value": 9.0}, "logit_scale_max"),
    ],
)
def test_invalid_values_are_rejected_with_their_name(bad, message):
    with pytest.raises(Exception, match=message):
        DualEncoderConfig(**bad)


def _tiny_vit() -> dict:
    return ViTConfig(image_size=30, patch_size=5, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=37).to_dict()


@pytest.mark.parametrize(
    "vision, text, vision_pooling, text_pooling",
    [
        (_tiny_vit(), BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=37).to_dict(), "cls", "cls"),
        (_tiny_vit(), XLMRobertaConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37, max_position_embeddings=40).to_dict(), "cls", "mean"),
        (CLIPVisionConfig(image_size=30, patch_size=5, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=37).to_dict(),
         BertConfig(vocab_size=60, hidden_size=24, num_hidden_layers=1, num_attention_heads=4,
                    intermediate_size=37).to_dict(), "pooler", "mean"),
        (SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2],
                    window_size=4).to_dict(),
         BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                    intermediate_size=37).to_dict(), "pooler", "cls"),
    ],
    ids=["vit+bert", "vit+xlm-r", "clip-vision+bert", "swin+bert"],
)
def test_tower_pairs_build_and_score(vision, text, vision_pooling, text_pooling, tmp_path):
    config = DualEncoderConfig(vision_config=vision, text_config=text, projection_dim=8,
                               vision_pooling=vision_pooling, text_pooling=text_pooling)
    model = DualEncoderModel(config).eval()
    size = config.vision_config.image_size
    pixels = torch.randn(2, 3, size, size)
    input_ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1]])
    attention_mask = (input_ids != 1).long()
    outputs = model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask)
    assert outputs.logits_per_image.shape == (2, 2)
    assert torch.isfinite(outputs.loss)

    model.save_pretrained(tmp_path)
    reloaded = DualEncoderModel.from_pretrained(tmp_path).eval()
    assert type(reloaded.vision_model) is type(model.vision_model)
    torch.testing.assert_close(reloaded.encode_image(pixels), model.encode_image(pixels), atol=1e-5, rtol=0)


@pytest.mark.parametrize("value", [True, False])
def test_a_config_json_with_the_old_gather_key_loads_and_is_saved_without_it(value, tmp_path):
    """`gather_across_processes` became a training argument (issue 14); config.json files written before still load."""
    old = {**tiny_config(vocab_size=50, projection_dim=24).to_dict(), "gather_across_processes": value}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))
    loaded = DualEncoderConfig.from_pretrained(tmp_path / "old")
    assert loaded.projection_dim == 24 and not hasattr(loaded, "gather_across_processes")
    loaded.save_pretrained(tmp_path / "new")
    assert "gather_across_processes" not in json.loads((tmp_path / "new" / "config.json").read_text())
    assert "gather_across_processes" not in DualEncoderConfig().to_dict()
