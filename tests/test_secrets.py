"""Secrets never leave the machine: saved training arguments hold no token, no pushed file may contain one.

In-process and offline: every refusal here happens before the Hub is contacted. The end-to-end check (train with
a token, push, download every file of the repos) is in test_push_hub.py.
"""

from __future__ import annotations

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import TrainingArguments

from rs_retrieval.publishing import PublishError, checkpoint_files, push_checkpoint
from rs_retrieval.training.trainer import DualEncoderTrainer

SECRET = "hf_secret_token_for_tests_0123456789"


def _trainer(model, processor, output_dir) -> DualEncoderTrainer:
    args = TrainingArguments(output_dir=str(output_dir), hub_token=SECRET, report_to="none", use_cpu=True)
    return DualEncoderTrainer(model=model, args=args, processing_class=processor)


def test_training_args_saved_by_the_trainer_hold_no_token(tiny_model, tiny_processor, tmp_path):
    trainer = _trainer(tiny_model, tiny_processor, tmp_path / "run")
    trainer.save_model(str(tmp_path / "run"))
    saved = tmp_path / "run" / "training_args.bin"
    assert SECRET.encode() not in saved.read_bytes()
    assert torch.load(saved, weights_only=False).hub_token is None
    assert trainer.args.hub_token == SECRET, "the run itself still pushes with the token it was given"


def _checkpoint(model, processor, folder):
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_push_model_never_publishes_pickles(tiny_model, tiny_processor, tmp_path):
    folder = _checkpoint(tiny_model, tiny_processor, tmp_path / "checkpoint")
    for name in ("training_args.bin", "pytorch_model.bin", "extra.pt", "state.pth", "cache.pkl", "x.pickle"):
        (folder / name).write_bytes(b"\x80\x04pickle")
    names = {path.name for path in checkpoint_files(folder)}
    assert "model.safetensors" in names
    assert not names & {"training_args.bin", "pytorch_model.bin", "extra.pt", "state.pth", "cache.pkl", "x.pickle"}


def test_a_file_holding_the_token_in_use_stops_the_push_and_is_named(tiny_model, tiny_processor, tmp_path,
                                                                     monkeypatch):
    folder = _checkpoint(tiny_model, tiny_processor, tmp_path / "checkpoint")
    (folder / "notes.json").write_text(f'{{"token": "{SECRET}"}}')
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(PublishError, match=r"notes\.json.*token") as refused:
        push_checkpoint(folder, "tester/leak")
    assert SECRET not in str(refused.value)


def test_a_token_given_to_the_push_is_looked_for_in_every_file_and_in_the_card(tiny_model, tiny_processor,
                                                                              tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    folder = _checkpoint(tiny_model, tiny_processor, tmp_path / "checkpoint")
    big = folder / "vocabulary.txt"  # the token straddles the scanner's chunk boundary
    big.write_bytes(b"a" * (1024 * 1024 - 5) + SECRET.encode() + b"b" * 100)
    with pytest.raises(PublishError, match=r"vocabulary\.txt"):
        push_checkpoint(folder, "tester/leak", token=SECRET)
    big.unlink()
    with pytest.raises(PublishError, match=r"README\.md"):
        push_checkpoint(folder, "tester/leak", token=SECRET, card=ModelCard(f"---\nlicense: mit\n---\n{SECRET}"))
