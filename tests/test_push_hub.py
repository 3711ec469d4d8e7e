"""Publishing against a local Hub: what is pushed loads back, on a machine without rs_retrieval, with its card.

Every client step runs in a fresh process whose environment points at the local Hub (the clients read
HF_ENDPOINT when imported; this process runs with HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_remote_code import LOADER

from rs_retrieval import DualEncoderModel, DualEncoderProcessor
from rs_retrieval.data.cards import synthetic_dataset_card
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.testing.local_hub import LocalHub, client_environment

TOKEN = "hf_push_test_token_0123456789"
RETRY_LINE = "the remote repo is unchanged; running the same command again completes the push"
REPO = Path(__file__).resolve().parents[1]
QUICK_CLIENT_RETRIES = Path(__file__).resolve().parent / "quick_client_retries"  # shorter retry waits in clients


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub-data"), token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def hub_env(hub, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("hf-home")
    env = {**os.environ, **client_environment(hub.url, token=TOKEN, home=str(home))}
    env.pop("PYTEST_XDIST_WORKER", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(QUICK_CLIENT_RETRIES), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic") / "dataset"
    dataset = make_synthetic_dataset(splits={"train": 4, "validation": 2, "test": 2}, image_size=32, seed=0)
    dataset.save_to_disk(str(folder))
    synthetic_dataset_card(dataset, seed=0, image_size=32).save(folder / "README.md")
    return folder


@pytest.fixture(scope="module")
def trained(hub_env, synthetic_dir, tmp_path_factory) -> Path:
    """A tiny model trained for 4 steps by train.py, which pushes every save to the local Hub (Trainer push)."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    completed = _script("train.py", hub_env, "--dataset", str(synthetic_dir), "--output_dir", str(out),
                        "--config", str(_tiny_config_dir(tmp_path_factory)), "--image_size", "32",
                        "--per_device_train_batch_size", "16", "--max_steps", "4", "--eval_strategy", "steps",
                        "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2",
                        "--load_best_model_at_end", "true", "--learning_rate", "1e-3", "--disable_tqdm", "true",
                        "--report_to", "none", "--push_to_hub", "true", "--hub_model_id", "tester/tiny-trainer",
                        "--hub_strategy", "every_save")
    assert completed.returncode == 0, completed.stderr[-4000:]
    return out


def _tiny_config_dir(tmp_path_factory) -> Path:
    from tiny_models import tiny_config

    from rs_retrieval.tokenizer import default_tokenizer

    folder = tmp_path_factory.mktemp("config")
    config = tiny_config(len(default_tokenizer()))
    config.vision_config.image_size = 32
    config.vision_config.patch_size = 8
    config.save_pretrained(folder)
    return folder


def _script(name: str, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "hub_scripts" / name), *arguments], env=env, text=True,
                          capture_output=True, timeout=600)


def _python(code: str, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *arguments], env=env, text=True,
                          capture_output=True, timeout=600)


def _local_embeddings(checkpoint: Path, image_path: Path) -> dict[str, list]:
    model = DualEncoderModel.from_pretrained(checkpoint).eval()
    processor = DualEncoderProcessor.from_pretrained(checkpoint)
    batch = processor(images=[Image.open(image_path)], text=["three airplanes", "ثلاث طائرات"])
    with torch.no_grad():
        return {"image": model.encode_image(batch["pixel_values"]).tolist(),
                "text": model.encode_text(batch["input_ids"], batch["attention_mask"]).tolist()}


def _assert_loads_from_hub_like_local(repo_id: str, checkpoint: Path, env: dict, tmp_path: Path) -> None:
    """In a process where rs_retrieval cannot be imported, AutoModel/AutoProcessor from the Hub embed like local."""
    image_path = tmp_path / "tile.png"
    Image.new("RGB", (40, 40), (200, 60, 20)).save(image_path)
    out = tmp_path / "hub_embeddings.json"
    completed = _python(LOADER, env, repo_id, str(image_path), str(out))
    assert completed.returncode == 0, completed.stderr[-4000:]
    remote = json.loads(out.read_text())
    assert remote["module"].startswith("transformers_modules"), remote["module"]
    local = _local_embeddings(checkpoint, image_path)
    for key in ("image", "text"):
        assert torch.tensor(remote[key]).sub(torch.tensor(local[key])).abs().max() <= 1e-5, key


def _card_results(repo_id: str, env: dict) -> dict:
    completed = _python("""
        import json, sys
        from huggingface_hub import ModelCard
        from rs_retrieval.publishing import results_from_card
        card = ModelCard.load(sys.argv[1])
        print(json.dumps({"results": results_from_card(card), "tags": card.data.tags, "text": card.text}))
    """, env, repo_id)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_trainer_run_with_push_to_hub_leaves_a_loadable_checkpoint_with_our_card(trained, hub_env, tmp_path):
    _assert_loads_from_hub_like_local("tester/tiny-trainer", trained, hub_env, tmp_path)
    card = _card_results("tester/tiny-trainer", hub_env)
    assert "custom_code" in card["tags"] and "4 optimizer steps" in card["text"]
    assert set(card["results"]) == {"en", "ar", "en+ar"}, "the validation recall goes to the model-index"


def test_pushed_checkpoint_loads_without_the_package_and_its_card_holds_the_results(trained, hub_env, tmp_path):
    results = tmp_path / "results.json"
    from rs_retrieval.evaluation import evaluate_checkpoint

    report = evaluate_checkpoint(str(trained), _dataset_of(trained), "test", progress=False)
    results.write_text(json.dumps(report))
    before = _digest(trained)
    completed = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", "tester/tiny",
                        "--results", str(results))
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "model card written" in completed.stdout
    assert _digest(trained) == before, "pushing must not touch the checkpoint"
    _assert_loads_from_hub_like_local("tester/tiny", trained, hub_env, tmp_path)
    assert _card_results("tester/tiny", hub_env)["results"] == report["results"]

    # A second push keeps the card on the Hub unless told to replace it.
    report["results"]["en"]["mr"] = 0.0
    results.write_text(json.dumps(report))
    kept = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", "tester/tiny",
                   "--results", str(results))
    assert kept.returncode == 0 and "existing README.md kept" in kept.stdout, kept.stderr[-2000:]
    assert _card_results("tester/tiny", hub_env)["results"]["en"]["mr"] != 0.0
    replaced = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", "tester/tiny",
                       "--results", str(results), "--overwrite-card")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert _card_results("tester/tiny", hub_env)["results"]["en"]["mr"] == 0.0


def _dataset_of(checkpoint: Path) -> str:
    return json.loads((checkpoint / "training_recipe.json").read_text())["dataset"]


def test_a_push_to_a_branch_of_a_private_repo(trained, hub_env, tmp_path):
    completed = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", "tester/tiny-private",
                        "--private", "--revision", "experiment")
    assert completed.returncode == 0, completed.stderr[-4000:]
    listing = _python("""
        import json, sys
        from huggingface_hub import HfApi
        api = HfApi()
        info = api.model_info(sys.argv[1])
        print(json.dumps({"private": info.private,
                          "branch": sorted(api.list_repo_files(sys.argv[1], revision="experiment")),
                          "main": sorted(api.list_repo_files(sys.argv[1]))}))
    """, hub_env, "tester/tiny-private")
    assert listing.returncode == 0, listing.stderr[-3000:]
    files = json.loads(listing.stdout.strip().splitlines()[-1])
    assert files["private"] is True
    assert "model.safetensors" in files["branch"] and "model.safetensors" not in files["main"]


def test_a_pushed_dataset_comes_back_with_equal_rows_and_its_card(synthetic_dir, hub_env, tmp_path):
    completed = _script("push_dataset.py", hub_env, "--dataset", str(synthetic_dir), "--repo-id",
                        "tester/synthetic")
    assert completed.returncode == 0, completed.stderr[-4000:]
    out = tmp_path / "rows.json"
    loaded = _python("""
        import hashlib, io, json, sys
        from datasets import load_dataset
        from huggingface_hub import DatasetCard
        dataset = load_dataset(sys.argv[1])
        rows = {split: [{**{k: v for k, v in row.items() if k != "image"},
                         "pixels": hashlib.sha256(row["image"].convert("RGB").tobytes()).hexdigest()}
                        for row in dataset[split]] for split in dataset}
        card = DatasetCard.load(sys.argv[1], repo_type="dataset")
        json.dump({"rows": rows, "card": card.text, "language": card.data.language}, open(sys.argv[2], "w"))
    """, hub_env, "tester/synthetic", str(out))
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    remote = json.loads(out.read_text())
    from datasets import load_from_disk

    local = load_from_disk(str(synthetic_dir))
    assert set(remote["rows"]) == set(local)
    for split in local:
        expected = [{**{k: v for k, v in row.items() if k != "image"},
                     "pixels": hashlib.sha256(row["image"].convert("RGB").tobytes()).hexdigest()}
                    for row in local[split]]
        assert remote["rows"][split] == expected, split
    assert "Procedurally drawn overhead scenes" in remote["card"] and remote["language"] == ["en", "ar"]


def test_a_push_cut_off_by_the_server_fails_clearly_and_a_retry_completes(hub, trained, hub_env, tmp_path):
    before = _digest(trained)
    for action, said in (("500", "HTTP 500"), ("drop", "connection to the Hub broke")):
        repo = f"tester/flaky-{action}"
        hub.faults.add(method="POST", path_pattern=r"/commit/", action=action, times=1)
        failed = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", repo)
        assert failed.returncode == 1, failed.stdout + failed.stderr[-3000:]
        assert said in failed.stderr and RETRY_LINE in failed.stderr
        assert "Traceback" not in failed.stderr
        assert _digest(trained) == before
        retried = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", repo)
        assert retried.returncode == 0, retried.stderr[-3000:]
        _assert_loads_from_hub_like_local(repo, trained, hub_env, tmp_path)


@pytest.mark.parametrize("token, said", [("hf_wrong_token_987654321", "token was rejected"),
                                         (None, "no Hub token was found")])
def test_a_wrong_or_missing_token_is_explained_without_printing_it(trained, hub_env, token, said):
    env = {k: v for k, v in hub_env.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    if token:
        env["HF_TOKEN"] = token
    completed = _script("push_model.py", env, "--checkpoint", str(trained), "--repo-id", "tester/denied")
    assert completed.returncode == 1
    assert said in completed.stderr and "Traceback" not in completed.stderr
    assert TOKEN not in completed.stdout + completed.stderr
    if token:
        assert token not in completed.stdout + completed.stderr


def _repo_state(repo_id: str, env: dict, repo_type: str = "model") -> dict:
    """The files and commit ids of a Hub repo, as a client sees them."""
    completed = _python("""
        import json, sys
        from huggingface_hub import HfApi
        api = HfApi()
        repo, kind = sys.argv[1:3]
        print(json.dumps({"files": sorted(api.list_repo_files(repo, repo_type=kind)),
                          "commits": [c.commit_id for c in api.list_repo_commits(repo, repo_type=kind)]}))
    """, env, repo_id, repo_type)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _assert_dropped_upload_changes_nothing(hub, env, script: str, arguments: list[str], repo_id: str,
                                           repo_type: str) -> None:
    before = _repo_state(repo_id, env, repo_type)
    hub.faults.add(method="PUT", path_pattern=r"/__lfs__/upload/", action="drop", times=None)
    try:
        failed = _script(script, env, *arguments)
    finally:
        hub.faults.clear()
    assert failed.returncode == 1, failed.stdout + failed.stderr[-3000:]
    assert RETRY_LINE in failed.stderr and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    last = failed.stderr.strip().splitlines()[-1]  # above it: the client's own retry warnings
    assert last.startswith(f"rs-retrieval {script[:-3].replace('_', '-')}: error: ") and RETRY_LINE in last
    assert _repo_state(repo_id, env, repo_type) == before, "a push cut off in the LFS upload must change nothing"
    retried = _script(script, env, *arguments)
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert _repo_state(repo_id, env, repo_type)["commits"][1:] == before["commits"], "the retry adds one commit"


def test_a_dataset_push_dropped_in_the_lfs_upload_leaves_the_repo_unchanged(hub, hub_env, synthetic_dir,
                                                                             tmp_path):
    repo = "tester/atomic-dataset"
    first = _script("push_dataset.py", hub_env, "--dataset", str(synthetic_dir), "--repo-id", repo)
    assert first.returncode == 0, first.stderr[-3000:]
    changed = tmp_path / "changed"
    make_synthetic_dataset(splits={"train": 3, "test": 1}, image_size=32, seed=7).save_to_disk(str(changed))
    _assert_dropped_upload_changes_nothing(hub, hub_env, "push_dataset.py",
                                           ["--dataset", str(changed), "--repo-id", repo], repo, "dataset")
    state = _repo_state(repo, hub_env, "dataset")
    assert not [f for f in state["files"] if f.startswith("data/validation-")], "older shards are removed"
    card = _python("""
        import sys
        from huggingface_hub import DatasetCard
        print(DatasetCard.load(sys.argv[1], repo_type="dataset").text)
    """, hub_env, repo)
    assert "Procedurally drawn overhead scenes" in card.stdout, "the card of the first push is kept"


def test_a_model_push_dropped_in_the_lfs_upload_leaves_the_repo_unchanged(hub, trained, hub_env, tmp_path):
    repo = "tester/atomic-model"
    first = _script("push_model.py", hub_env, "--checkpoint", str(trained), "--repo-id", repo)
    assert first.returncode == 0, first.stderr[-3000:]
    retrained = tmp_path / "retrained"  # weights the Hub has not seen, so the push has an LFS upload to lose
    model = DualEncoderModel.from_pretrained(trained)
    with torch.no_grad():
        model.logit_scale.add_(0.5)
    model.save_pretrained(retrained)
    DualEncoderProcessor.from_pretrained(trained).save_pretrained(retrained)
    _assert_dropped_upload_changes_nothing(hub, hub_env, "push_model.py",
                                           ["--checkpoint", str(retrained), "--repo-id", repo], repo, "model")


def test_a_token_used_for_training_and_pushing_is_in_no_published_file(tiny_model, tiny_processor, hub_env,
                                                                      tmp_path):
    """The Trainer pushes with `hub_token` (every save and at the end), then push-model publishes a checkpoint of
    that run: no file of either repo holds the token, although the Trainer publishes its training_args.bin."""
    start, run = tmp_path / "start", tmp_path / "run"
    tiny_model.save_pretrained(start)
    tiny_processor.save_pretrained(start)
    trained_run = _python("""
        import sys
        from transformers import TrainingArguments
        from rs_retrieval import DualEncoderModel, DualEncoderProcessor
        from rs_retrieval.training.trainer import DualEncoderTrainer
        start, out, repo, token = sys.argv[1:5]
        args = TrainingArguments(output_dir=out, push_to_hub=True, hub_model_id=repo, hub_token=token,
                                 hub_strategy="every_save", save_only_model=True, report_to="none", use_cpu=True)
        trainer = DualEncoderTrainer(model=DualEncoderModel.from_pretrained(start), args=args,
                                     processing_class=DualEncoderProcessor.from_pretrained(start))
        trainer.state.global_step = 1
        trainer._save_checkpoint(trainer.model, trial=None)
        trainer.save_model()
        trainer._finish_current_push()
    """, hub_env, str(start), str(run), "tester/with-token", TOKEN)
    assert trained_run.returncode == 0, trained_run.stderr[-4000:]
    pushed = _script("push_model.py", hub_env, "--checkpoint", str(run / "checkpoint-1"), "--repo-id",
                     "tester/with-token-model")
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    assert TOKEN not in trained_run.stdout + trained_run.stderr + pushed.stdout + pushed.stderr
    downloaded = _python("""
        import json, sys
        from huggingface_hub import snapshot_download
        print(json.dumps([snapshot_download(repo, local_dir=f"{sys.argv[1]}/{repo}") for repo in sys.argv[2:]]))
    """, hub_env, str(tmp_path / "downloads"), "tester/with-token", "tester/with-token-model")
    assert downloaded.returncode == 0, downloaded.stderr[-3000:]
    trainer_repo, model_repo = (Path(p) for p in json.loads(downloaded.stdout.strip().splitlines()[-1]))
    assert (trainer_repo / "training_args.bin").is_file() and not (model_repo / "training_args.bin").exists()
    files = [p for repo in (trainer_repo, model_repo) for p in repo.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert [p for p in files if TOKEN.encode() in p.read_bytes()] == []
