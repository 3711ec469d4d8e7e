"""Shared fixtures: tiny towers, a tiny bilingual tokenizer and processor, all built in-process (no Hub)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per xdist worker: two workers on two cores, no oversubscription.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
from tiny_models import IMAGE_SIZE, TINY_CORPUS, tiny_config

from rs_retrieval import DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor
from rs_retrieval.tokenizer import train_sentencepiece_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return train_sentencepiece_tokenizer(TINY_CORPUS * 4, vocab_size=120)


@pytest.fixture()
def tiny_model(tiny_tokenizer) -> DualEncoderModel:
    torch.manual_seed(0)
    return DualEncoderModel(tiny_config(len(tiny_tokenizer))).eval()


@pytest.fixture()
def tiny_processor(tiny_tokenizer) -> DualEncoderProcessor:
    return DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer, max_length=24)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    """A saved tiny model and processor (16-dimensional joint space), shared read-only by the tests of a session."""
    path = tmp_path_factory.mktemp("tiny_checkpoint") / "model"
    torch.manual_seed(0)
    DualEncoderModel(tiny_config(len(tiny_tokenizer))).save_pretrained(path)
    DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer,
                         max_length=24).save_pretrained(path)
    return path
