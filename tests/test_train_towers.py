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


def test_the_trainer_refuses_to_resume_from_a_pickle_only_checkpoint(tiny_model, tmp_path):
    """The stock Trainer falls back to `torch.load` of `pytorch_model.bin`; ours names the file instead."""
    from transformers import TrainingArguments

    from rs_retrieval.checkpoints import CheckpointError
    from rs_retrieval.training import DualEncoderTrainer

    pickled = tmp_path / "checkpoint-1"
    tiny_model.config.save_pretrained(pickled)
    torch.save(tiny_model.state_dict(), pickled / "pytorch_model.bin")
    trainer = DualEncoderTrainer(model=tiny_model, args=TrainingArguments(output_dir=str(tmp_path / "run"),
                                                                          report_to="none"))
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        trainer._load_from_checkpoint(str(pickled))
