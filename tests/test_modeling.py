"""DualEncoderModel: shapes, the transformers v5 feature contract, save/load, pretrained towers, attentions."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import IMAGE_SIZE, tiny_config
from transformers import AutoModel, BertConfig, BertModel, ViTConfig, ViTModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from rs_retrieval import DualEncoderModel


def _inputs(batch: int = 3, length: int = 9):
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    input_ids = torch.randint(5, 50, (batch, length), generator=generator)
    input_ids[:, 0] = 0
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, -3:] = 0
    return pixels, input_ids, attention_mask


def test_logit_scale_starts_at_ln_one_over_0_07(tiny_model):
    assert tiny_model.logit_scale.item() == pytest.approx(math.log(1 / 0.07), rel=1e-6)


def test_projections_are_bias_free_and_initialised_by_the_model(tiny_model):
    assert tiny_model.visual_projection.bias is None and tiny_model.text_projection.bias is None
    expected_std = tiny_model.vision_embed_dim ** -0.5
    assert tiny_model.visual_projection.weight.std().item() == pytest.approx(expected_std, rel=0.25)


def test_forward_returns_clip_style_output(tiny_model):
    pixels, input_ids, attention_mask = _inputs()
    outputs = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask)
    assert outputs.logits_per_image.shape == (3, 3)
    torch.testing.assert_close(outputs.logits_per_image, outputs.logits_per_text.t())
    torch.testing.assert_close(outputs.image_embeds.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(outputs.text_embeds.norm(dim=-1), torch.ones(3))
    assert outputs.loss.ndim == 0 and torch.isfinite(outputs.loss)
    assert outputs.vision_model_output.last_hidden_state.shape[0] == 3
    no_loss = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, return_loss=False)
    assert no_loss.loss is None
    as_tuple = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, return_dict=False)
    torch.testing.assert_close(as_tuple[0], outputs.loss)


def test_image_ids_make_shared_images_positives(tiny_model):
    pixels, input_ids, attention_mask = _inputs()
    pixels[1] = pixels[0]
    plain = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask).loss
    shared = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask,
                        image_ids=torch.tensor([4, 4, 5])).loss
    assert shared.item() < plain.item()
    with pytest.raises(ValueError, match="image_ids"):
        tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, image_ids=torch.tensor([1]))


def test_the_loss_is_computed_from_the_logits_forward_returns(tiny_model):
    pixels, input_ids, attention_mask = _inputs()
    image_ids, caption_ids = torch.tensor([4, 4, 5]), torch.tensor([9, 8, 9])
    outputs = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask,
                         image_ids=image_ids, caption_ids=caption_ids)
    torch.testing.assert_close(outputs.logits_per_text,
                               tiny_model.similarity_logits(outputs.text_embeds, outputs.image_embeds))
    torch.testing.assert_close(outputs.logits_per_text,
                               tiny_model.logit_scale.exp() * outputs.text_embeds @ outputs.image_embeds.t())
    expected = tiny_model.contrastive_loss(outputs.logits_per_text, image_ids=image_ids, caption_ids=caption_ids)
    assert outputs.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="caption_ids"):
        tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask,
                   caption_ids=torch.tensor([1, 2]))


def test_feature_getters_follow_the_v5_contract(tiny_model):
    pixels, input_ids, attention_mask = _inputs()
    image_features = tiny_model.get_image_features(pixel_values=pixels)
    text_features = tiny_model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
    assert isinstance(image_features, BaseModelOutputWithPooling)
    assert image_features.pooler_output.shape == (3, tiny_model.config.projection_dim)
    assert text_features.pooler_output.shape == (3, tiny_model.config.projection_dim)
    torch.testing.assert_close(tiny_model.encode_image(pixels),
                               torch.nn.functional.normalize(image_features.pooler_output, dim=-1))
    torch.testing.assert_close(tiny_model.encode_text(input_ids, attention_mask),
                               torch.nn.functional.normalize(text_features.pooler_output, dim=-1))


def test_mean_pooling_ignores_padding(tiny_tokenizer):
    model = DualEncoderModel(tiny_config(len(tiny_tokenizer), text_pooling="mean")).eval()
    input_ids = torch.tensor([[0, 7, 8, 2]])
    padded = torch.tensor([[0, 7, 8, 2, 1, 1]])
    short = model.encode_text(input_ids, torch.ones_like(input_ids))
    long = model.encode_text(padded, (padded != 1).long())
    torch.testing.assert_close(short, long, atol=1e-5, rtol=0)


def test_save_and_reload_gives_the_same_embeddings(tiny_model, tmp_path):
    pixels, input_ids, attention_mask = _inputs()
    tiny_model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert not list(tmp_path.glob("*.bin")), "weights are saved as safetensors only"
    reloaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, DualEncoderModel)
    assert (reloaded.encode_image(pixels) - tiny_model.encode_image(pixels)).abs().max() <= 1e-5
    assert (reloaded.encode_text(input_ids, attention_mask)
            - tiny_model.encode_text(input_ids, attention_mask)).abs().max() <= 1e-5
    assert reloaded.logit_scale.item() == pytest.approx(tiny_model.logit_scale.item())


def test_output_attentions_returns_both_towers_attentions_under_sdpa(tiny_model):
    pixels, input_ids, attention_mask = _inputs()
    assert tiny_model.vision_model.config._attn_implementation == "sdpa"
    outputs = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask,
                         output_attentions=True)
    vision_attentions = outputs.vision_model_output.attentions
    assert len(vision_attentions) == tiny_model.config.vision_config.num_hidden_layers
    patches = (IMAGE_SIZE // tiny_model.config.vision_config.patch_size) ** 2
    assert vision_attentions[0].shape == (3, 4, patches + 1, patches + 1)
    assert len(outputs.text_model_output.attentions) == tiny_model.config.text_config.num_hidden_layers
    assert tiny_model.vision_model.config._attn_implementation == "sdpa", "eager only for that call"
    plain = tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask)
    torch.testing.assert_close(outputs.logits_per_text, plain.logits_per_text, atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_reaches_the_towers(tiny_model):
    tiny_model.activation_checkpointing_enable()
    tiny_model.train()
    pixels, input_ids, attention_mask = _inputs()
    tiny_model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask).loss.backward()
    checkpointed = [name for name, module in tiny_model.named_modules()
                    if getattr(module, "gradient_checkpointing", False)]
    assert any(name.startswith("vision_model") for name in checkpointed)
    assert any(name.startswith("text_model") for name in checkpointed)
    assert tiny_model.visual_projection.weight.grad is not None


def test_clamp_logit_scale_caps_the_temperature(tiny_model):
    with torch.no_grad():
        tiny_model.logit_scale.fill_(10.0)
    tiny_model.clamp_logit_scale()
    assert tiny_model.logit_scale.item() == pytest.approx(math.log(100))


def test_forward_needs_both_modalities(tiny_model):
    with pytest.raises(ValueError, match="pixel_values and input_ids"):
        tiny_model(pixel_values=torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE))


def test_from_vision_text_pretrained_starts_from_local_tower_folders(tmp_path):
    torch.manual_seed(1)
    vit = ViTModel(ViTConfig(image_size=IMAGE_SIZE, patch_size=5, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=37), add_pooling_layer=False)
    bert = BertModel(BertConfig(vocab_size=80, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37), add_pooling_layer=False)
    vit.save_pretrained(tmp_path / "vit")
    bert.save_pretrained(tmp_path / "bert")

    model = DualEncoderModel.from_vision_text_pretrained(str(tmp_path / "vit"), str(tmp_path / "bert"),
                                                         projection_dim=12, text_pooling="mean")
    assert model.config.projection_dim == 12 and model.config.text_pooling == "mean"
    torch.testing.assert_close(model.vision_model.embeddings.patch_embeddings.projection.weight,
                               vit.embeddings.patch_embeddings.projection.weight)
    torch.testing.assert_close(model.text_model.embeddings.word_embeddings.weight,
                               bert.embeddings.word_embeddings.weight)
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert model.visual_projection.weight.abs().sum() > 0


def test_a_pretrained_text_tower_beside_a_vision_tower_from_scratch(tmp_path):
    bert = BertModel(BertConfig(vocab_size=80, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37), add_pooling_layer=False)
    bert.save_pretrained(tmp_path / "bert")
    vision = ViTConfig(image_size=IMAGE_SIZE, patch_size=5, hidden_size=24, num_hidden_layers=1,
                       num_attention_heads=4, intermediate_size=37)
    model = DualEncoderModel.from_vision_text_pretrained(text_name_or_path=str(tmp_path / "bert"),
                                                         vision_config=vision.to_dict(), projection_dim=8)
    assert model.config.vision_config.hidden_size == 24
    torch.testing.assert_close(model.text_model.embeddings.word_embeddings.weight,
                               bert.embeddings.word_embeddings.weight)
    model.save_pretrained(tmp_path / "dual")
    reloaded = DualEncoderModel.from_pretrained(tmp_path / "dual")
    torch.testing.assert_close(reloaded.text_model.embeddings.word_embeddings.weight,
                               bert.embeddings.word_embeddings.weight)


def test_the_model_docstring_example_runs():
    """The example in `DualEncoderModel`'s docstring (shipped with every checkpoint) runs and prints what it says."""
    import doctest

    from rs_retrieval.modeling import modeling_rs_dual_encoder

    lines = [line.strip() for line in modeling_rs_dual_encoder.DualEncoderModel.__doc__.splitlines()]
    example = "\n".join(line for line in lines
                        if line and not line.startswith("```") and line.startswith((">>>", "torch")))
    test = doctest.DocTestParser().get_doctest(example, {}, "DualEncoderModel", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize().failed == 0 and runner.summarize().attempted >= 8
