"""Model cards and checkpoint checks of the publishing code, without a Hub (the pushes are in test_push_hub.py)."""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.errors import HfHubHTTPError

from rs_retrieval.publishing import PublishError, build_model_card, checkpoint_files, read_recipe, results_from_card
from rs_retrieval.publishing.hub_errors import hub_errors

REPORT = {
    "dataset": "outputs/ucm", "split": "test", "images": 3, "captions": {"en": 15, "ar": 15},
    "results": {
        queries: {"i2t_r1": 33.33333333333333 + i, "i2t_r5": 66.66666666666667, "i2t_r10": 100.0,
                  "t2i_r1": 13.333333333333334, "t2i_r5": 60.0, "t2i_r10": 100.0, "mr": 62.22222222222222 + i}
        for i, queries in enumerate(("en", "ar", "en+ar"))
    },
}


@pytest.fixture()
def checkpoint(tiny_model, tiny_processor, tmp_path):
    folder = tmp_path / "checkpoint"
    tiny_model.save_pretrained(folder)
    tiny_processor.save_pretrained(folder)
    return folder


def test_card_metadata_and_model_index_hold_the_evaluation_exactly(tiny_model, checkpoint):
    card = build_model_card(tiny_model.config, repo_id="org/rs-demo", checkpoint=checkpoint, report=REPORT,
                            recipe={"languages": ["en", "ar"], "text_model": "intfloat/multilingual-e5-small",
                                    "vision_model": str(checkpoint), "dataset": "org/ucm-en-ar"})
    reparsed = ModelCard(str(card))
    data = reparsed.data
    assert data.library_name == "transformers" and "custom_code" in data.tags
    assert data.language == ["en", "ar"] and data.license == "apache-2.0"
    assert data.base_model == ["intfloat/multilingual-e5-small"], "a local folder is no base_model"
    assert data.datasets == ["org/ucm-en-ar"]
    assert results_from_card(reparsed) == REPORT["results"]
    assert {r.dataset_split for r in data.eval_results} == {"test"}
    assert 'AutoModel.from_pretrained("org/rs-demo", trust_remote_code=True)' in reparsed.text
    assert "| en+ar | 35.33 |" in reparsed.text


def test_card_without_results_says_how_to_add_them(tiny_model, checkpoint):
    card = build_model_card(tiny_model.config, repo_id="org/rs-demo", checkpoint=checkpoint)
    assert card.data.eval_results is None
    assert "push again with `--results results.json`" in card.text
    assert "No training recipe" in card.text


def test_a_tower_whose_source_is_not_recorded_is_unknown_not_from_scratch(tiny_model, checkpoint):
    card = build_model_card(tiny_model.config, repo_id="org/rs-demo", checkpoint=checkpoint)
    assert "trained from scratch" not in card.text
    assert "Vision tower:" in card.text and card.text.count("source of its weights unknown") == 2
    recorded = build_model_card(tiny_model.config, repo_id="org/rs-demo", checkpoint=checkpoint,
                                recipe={"vision_model": None, "text_model": "intfloat/multilingual-e5-small"})
    assert "initialised from `intfloat/multilingual-e5-small`" in recorded.text
    assert "trained from scratch" in recorded.text, "a recipe that records no vision source means from scratch"


def test_a_checkpoint_n_folder_reads_the_recipe_of_its_run(checkpoint, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoint-4").mkdir(parents=True)
    (run / "training_recipe.json").write_text(json.dumps({"text_model": "intfloat/multilingual-e5-small"}))
    assert read_recipe(run / "checkpoint-4") == {"text_model": "intfloat/multilingual-e5-small"}
    (run / "checkpoint-4" / "training_recipe.json").write_text(json.dumps({"text_model": "own/copy"}))
    assert read_recipe(run / "checkpoint-4") == {"text_model": "own/copy"}, "a checkpoint's own recipe comes first"
    assert read_recipe(checkpoint) is None, "only checkpoint-N folders look one level up"


def test_card_describes_the_recorded_recipe(tiny_model, checkpoint):
    recipe = {"dataset": "synthetic", "languages": ["ar"], "train_images": 256, "steps": 200, "epochs": 40.0,
              "batch_size": 64, "learning_rate": 0.002, "seed": 0, "augment": True, "freeze_text_embeddings": True,
              "best_metric": 71.9}
    card = build_model_card(tiny_model.config, repo_id="org/rs-ar", checkpoint=checkpoint, recipe=recipe)
    assert card.data.language == ["ar"]
    assert "200 optimizer steps" in card.text and "Frozen: text embeddings" in card.text
    assert "best validation mR (71.90)" in card.text and "synthetic demo scenes" in card.text
    assert "طائرات متوقفة بجانب المدرج" in card.text


def test_checkpoint_files_leave_out_training_state_and_old_cards(checkpoint):
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "README.md"):
        (checkpoint / name).write_bytes(b"x")
    (checkpoint / "checkpoint-3").mkdir()
    (checkpoint / "checkpoint-3" / "model.safetensors").write_bytes(b"x")
    names = {path.name for path in checkpoint_files(checkpoint)}
    assert {"config.json", "model.safetensors", "modeling_rs_dual_encoder.py", "processor_config.json"} <= names
    assert not names & {"optimizer.pt", "scheduler.pt", "rng_state.pth", "README.md"}
    assert all("checkpoint-3" not in str(path) for path in checkpoint_files(checkpoint))


@pytest.mark.parametrize("breakage, named", [
    (lambda f: (f / "modeling_rs_dual_encoder.py").unlink(), "modeling_rs_dual_encoder.py"),
    (lambda f: (f / "model.safetensors").rename(f / "pytorch_model.bin"), "pytorch_model.bin"),
    (lambda f: (f / "processor_config.json").unlink(), "processor"),
    (lambda f: (f / "config.json").write_text(json.dumps({"model_type": "rs_dual_encoder"})), "auto_map"),
    (lambda f: (f / "config.json").unlink(), "config.json"),
])
def test_an_unloadable_checkpoint_is_refused_by_name(checkpoint, breakage, named):
    breakage(checkpoint)
    with pytest.raises(PublishError, match=named.replace(".", r"\.")):
        checkpoint_files(checkpoint)


def _http_error(status: int) -> HfHubHTTPError:
    request = httpx.Request("POST", "http://hub.test/api/models/org/x/commit/main")
    return HfHubHTTPError(f"{status} error", response=httpx.Response(status, request=request))


def test_a_refused_token_is_explained_and_never_printed():
    token = "hf_secret_token_123"
    with pytest.raises(PublishError) as refused:
        with hub_errors("org/x", token, local="outputs/ckpt"):
            raise _http_error(401)
    message = str(refused.value)
    assert "token was rejected" in message and token not in message
    assert "Nothing local was changed (outputs/ckpt); the remote repo is unchanged." in message
    assert "completes the push" not in message, "re-running with the same rejected token cannot complete it"
    with pytest.raises(PublishError, match="no token was found.*HF_TOKEN"):
        with hub_errors("org/x", None):
            raise _http_error(401)


def test_an_upload_dropped_inside_the_client_is_a_publish_error_not_a_traceback():
    """huggingface_hub wraps a broken LFS upload in `RuntimeError("Error while uploading ...")`."""
    with pytest.raises(PublishError, match="connection to the Hub broke.*the remote repo is unchanged"):
        with hub_errors("org/x", None, local="outputs/ckpt"):
            try:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            except httpx.RemoteProtocolError as cause:
                raise RuntimeError("Error while uploading 'model.safetensors' to the Hub.") from cause
    with pytest.raises(RuntimeError):  # a RuntimeError of ours stays a bug
        with hub_errors("org/x", None):
            raise RuntimeError("bug")


def test_a_broken_connection_and_a_server_error_say_what_happened():
    with pytest.raises(PublishError, match="connection to the Hub broke.*running the same command again completes"):
        with hub_errors("org/x", None):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    with pytest.raises(PublishError, match="HTTP 500"):
        with hub_errors("org/x", None):
            raise _http_error(500)
    with pytest.raises(KeyError):  # our own bugs are not disguised as Hub failures
        with hub_errors("org/x", None):
            raise KeyError("bug")


def test_the_trainer_writes_the_run_recipe_into_every_checkpoint(tiny_model, tiny_processor, tmp_path):
    from transformers import TrainingArguments

    from rs_retrieval.training.trainer import DualEncoderTrainer

    run = tmp_path / "run"
    run.mkdir()
    (run / "training_recipe.json").write_text(json.dumps({"text_model": "intfloat/multilingual-e5-small"}))
    args = TrainingArguments(output_dir=str(run), report_to="none", use_cpu=True)
    trainer = DualEncoderTrainer(model=tiny_model, args=args, processing_class=tiny_processor)
    trainer.save_model(str(run / "checkpoint-2"))
    assert json.loads((run / "checkpoint-2" / "training_recipe.json").read_text()) == {
        "text_model": "intfloat/multilingual-e5-small"}
