"""Bad input to push-model and push-dataset: one line naming the problem, exit 2 for a bad argument, 1 otherwise.

Everything here is refused before the Hub is contacted (the tests run offline): missing or foreign folders,
symbolic links inside what would be published, bad repo ids and results files, no token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from commands import push_dataset, push_model

from rs_retrieval.publishing import PublishError, checkpoint_files, push_dataset_folder

TOKEN = "hf_inputs_test_token_0123456789"


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)


@pytest.fixture()
def checkpoint(tiny_model, tiny_processor, tmp_path) -> Path:
    folder = tmp_path / "checkpoint"
    tiny_model.save_pretrained(folder)
    tiny_processor.save_pretrained(folder)
    return folder


@pytest.fixture()
def dataset_folder(tmp_path) -> Path:
    from datasets import Dataset, DatasetDict

    folder = tmp_path / "dataset"
    DatasetDict({"train": Dataset.from_dict({"caption": ["a river", "a farm"]})}).save_to_disk(str(folder))
    return folder


def _outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("private key")
    return secret


def test_a_symlink_inside_a_checkpoint_is_refused_by_name(checkpoint, tmp_path):
    os.symlink(_outside_file(tmp_path), checkpoint / "notes.txt")
    with pytest.raises(PublishError, match=r"notes\.txt.*symbolic link"):
        checkpoint_files(checkpoint)


def test_a_symlinked_folder_inside_a_checkpoint_is_refused_and_not_followed(checkpoint, tmp_path):
    os.symlink(_outside_file(tmp_path).parent, checkpoint / "extras")
    with pytest.raises(PublishError, match=r"extras.*symbolic link"):
        checkpoint_files(checkpoint)


def test_a_symlink_inside_a_dataset_folder_is_refused_by_name(dataset_folder, tmp_path):
    os.symlink(_outside_file(tmp_path), dataset_folder / "train" / "extra.arrow")
    with pytest.raises(PublishError, match=r"extra\.arrow.*symbolic link"):
        push_dataset_folder(dataset_folder, "tester/linked")


def _one_line_error(capsys, prog: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"rs-retrieval {prog}: error: "), err
    return err


@pytest.mark.parametrize("arguments, code, said", [
    (["--checkpoint", "{tmp}/missing"], 2, "does not exist"),
    (["--checkpoint", "{tmp}"], 1, "no config.json"),
    (["--checkpoint", "{checkpoint}", "--repo-id", "bad repo id!"], 2, "repo id"),
    (["--checkpoint", "{checkpoint}", "--results", "{tmp}/missing.json"], 2, "does not exist"),
    (["--checkpoint", "{checkpoint}", "--results", "{tmp}/garbage.json"], 1, "not valid JSON"),
    (["--checkpoint", "{checkpoint}", "--results", "{tmp}/partial.json"], 1, "i2t_r5"),
    (["--checkpoint", "{checkpoint}", "--results", "{tmp}/no_table.json"], 1, "not an evaluation report"),
])
def test_push_model_bad_arguments_are_one_line(checkpoint, tmp_path, capsys, arguments, code, said):
    (tmp_path / "garbage.json").write_bytes(b"\xff{not json")
    (tmp_path / "partial.json").write_text(json.dumps({"results": {"en": {"i2t_r1": 1.0}}}))
    (tmp_path / "no_table.json").write_text(json.dumps([1, 2]))
    argv = [a.format(tmp=tmp_path, checkpoint=checkpoint) for a in arguments]
    argv += [] if "--repo-id" in argv else ["--repo-id", "tester/x"]
    assert push_model.main(argv) == code
    assert said in _one_line_error(capsys, "push-model")


def test_push_model_without_a_token_says_how_to_give_one(checkpoint, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("rs_retrieval.publishing.secrets.stored_token", lambda: None)
    assert push_model.main(["--checkpoint", str(checkpoint), "--repo-id", "tester/x"]) == 1
    assert "no Hub token was found" in _one_line_error(capsys, "push-model")


def test_push_model_card_only_needs_no_token(checkpoint, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    assert push_model.main(["--checkpoint", str(checkpoint), "--repo-id", "tester/x", "--card-only"]) == 0
    assert "trust_remote_code=True" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, code, said", [
    (["--dataset", "{tmp}/missing"], 2, "does not exist"),
    (["--dataset", "{tmp}/empty"], 1, "not a dataset saved with save_to_disk"),
    (["--dataset", "{dataset}", "--repo-id", "a/b/c"], 2, "repo id"),
    (["--dataset", "{dataset}", "--max-shard-size", "lots"], 2, "--max-shard-size"),
])
def test_push_dataset_bad_arguments_are_one_line(dataset_folder, tmp_path, capsys, arguments, code, said):
    (tmp_path / "empty").mkdir()
    argv = [a.format(tmp=tmp_path, dataset=dataset_folder) for a in arguments]
    argv += [] if "--repo-id" in argv else ["--repo-id", "tester/x"]
    assert push_dataset.main(argv) == code
    assert said in _one_line_error(capsys, "push-dataset")
