"""Pretrained towers are loaded from safetensors only: a tower folder holding only pickles is refused."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from rs_retrieval import DualEncoderModel


def test_a_pickle_only_tower_folder_is_not_unpickled(tmp_path):
    tower = BertModel(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                 intermediate_size=37, max_position_embeddings=32))
    tower.config.save_pretrained(tmp_path)
    torch.save(tower.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        DualEncoderModel.from_vision_text_pretrained(text_name_or_path=str(tmp_path))
