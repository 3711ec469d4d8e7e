"""Under torchrun with 2 CPU processes (gloo), training sees the global batch: same loss and gradients as one
process holding the concatenated batch, through DDP and the Trainer alike; `gather_across_processes=False` keeps each
process to its own batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from distributed_gradients import fixed_batch
from tiny_models import tiny_config

from rs_retrieval import DualEncoderModel

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_two_processes_compute_the_loss_and_gradients_of_the_concatenated_batch(tmp_path):
    completed = _torchrun(str(HERE / "distributed_gradients.py"), str(tmp_path / "ddp.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    distributed = json.loads((tmp_path / "ddp.json").read_text())
    assert distributed["world_size"] == 2

    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(vocab_size=64))
    model.eval()  # no dropout: both runs must draw nothing at random
    batch = fixed_batch()
    with torch.no_grad():  # gather_across_processes=False: rank 0 scores its own half only
        local = model(**{name: values[:4] for name, values in batch.items()}).loss
    assert distributed["rank0_local_loss"] == pytest.approx(local.item(), rel=1e-5)
    loss = model(**batch).loss
    loss.backward()
    assert distributed["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert abs(local.item() - loss.item()) > 1e-3, "the two losses must differ for the comparison to mean anything"
    for name, parameter in model.named_parameters():
        expected = parameter.grad.flatten()[:50]
        torch.testing.assert_close(torch.tensor(distributed["gradients"][name]), expected, rtol=1e-3, atol=1e-6,
                                   msg=name)


def test_train_script_runs_on_two_cpu_processes(tmp_path):
    completed = _torchrun(str(REPO / "hub_scripts" / "train.py"), "--dataset", "synthetic",
                          "--synthetic_image_size", "32", "--image_size", "32", "--synthetic_train_per_scene", "4",
                          "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
                          "--per_device_train_batch_size", "8",
                          "--eval_strategy", "steps", "--eval_steps", "3", "--save_strategy", "steps",
                          "--save_steps", "3",
                          "--ddp_backend", "gloo", "--disable_tqdm", "true", "--max_eval_images", "12", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert (tmp_path / "out" / "model.safetensors").exists()
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert any("eval_mr" in entry for entry in state["log_history"])


def test_one_process_trains_on_the_models_own_loss(tmp_path):
    from rs_retrieval.training import DualEncoderTrainer, DualEncoderTrainingArguments

    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(vocab_size=64)).eval()
    args = DualEncoderTrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = DualEncoderTrainer(model=model, args=args)
    batch = fixed_batch()
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    assert loss.item() == pytest.approx(model(**batch).loss.item(), rel=1e-6)
    assert outputs.logits_per_text.shape == (8, 8)


def test_gather_across_processes_is_a_training_argument_not_a_config_field(tmp_path):
    from rs_retrieval import DualEncoderConfig
    from rs_retrieval.training.recipe import parse_arguments

    assert parse_arguments(["--output_dir", str(tmp_path)])[2].gather_across_processes is True
    arguments = parse_arguments(["--output_dir", str(tmp_path), "--gather_across_processes", "false"])[2]
    assert arguments.gather_across_processes is False
    assert "gather_across_processes" not in DualEncoderConfig().to_dict()
