"""Training through hub_scripts/train.py: it learns, it resumes exactly, its evaluation and metric module work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from commands import evaluate as evaluate_script
from commands import train
from safetensors.torch import load_file

from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.evaluation import evaluate_checkpoint
from rs_retrieval.training.recipe import select_split

REPO = Path(__file__).resolve().parents[1]
QUIET = ["--disable_tqdm", "true", "--report_to", "none"]


@pytest.fixture(scope="module")
def synthetic_32(tmp_path_factory) -> str:
    """10 scene types at 32 px: 16 train, 2 validation and 4 test images per scene, saved to disk."""
    path = tmp_path_factory.mktemp("synthetic") / "dataset"
    make_synthetic_dataset(splits={"train": 16, "validation": 2, "test": 4}, image_size=32,
                           seed=0).save_to_disk(str(path))
    return str(path)


def _train(output_dir: Path, dataset: str, *extra: str) -> int:
    return train.main(["--dataset", dataset, "--output_dir", str(output_dir), "--image_size", "32",
                       "--per_device_train_batch_size", "32", *QUIET, *extra])


def test_a_few_hundred_steps_lift_text_to_image_recall_far_above_chance(synthetic_32, tmp_path):
    assert _train(tmp_path / "model", synthetic_32, "--max_steps", "200", "--eval_strategy", "no",
                  "--save_strategy", "no", "--load_best_model_at_end", "false", "--logging_steps", "100") == 0
    report = evaluate_checkpoint(str(tmp_path / "model"), synthetic_32, "test", progress=False)
    chance_r5 = 100 * 5 / report["images"]  # 40 test images: a random ranking finds the image in the top 5 12.5%
    for queries in ("en", "ar", "en+ar"):
        assert report["results"][queries]["t2i_r5"] >= 3 * chance_r5, (queries, report["results"][queries])


def test_resuming_from_a_mid_run_checkpoint_reaches_the_same_weights(synthetic_32, tmp_path):
    common = ["--max_steps", "6", "--save_strategy", "steps", "--save_steps", "3", "--eval_strategy", "no",
              "--load_best_model_at_end", "false", "--seed", "7", "--logging_steps", "3"]
    assert _train(tmp_path / "straight", synthetic_32, *common) == 0
    checkpoint = tmp_path / "straight" / "checkpoint-3"  # what an interrupted run would have left behind
    assert checkpoint.exists()
    assert _train(tmp_path / "resumed", synthetic_32, *common, "--resume_from_checkpoint", str(checkpoint)) == 0

    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=1e-6, msg=name)
    first = load_file(checkpoint / "model.safetensors")
    assert any(not torch.equal(first[n], straight[n]) for n in straight), "steps 4-6 must have changed the weights"


def test_training_keeps_the_best_checkpoint_by_eval_mr_and_saves_code_and_processor(synthetic_32, tmp_path):
    out = tmp_path / "best"
    assert _train(out, synthetic_32, "--max_steps", "4", "--eval_strategy", "steps", "--eval_steps", "2",
                  "--save_strategy", "steps", "--save_steps", "2", "--languages", "ar") == 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["best_metric"] is not None and state["best_model_checkpoint"]
    evaluated = [entry for entry in state["log_history"] if "eval_mr" in entry]
    assert evaluated and all("eval_ar_t2i_r5" in entry for entry in evaluated)
    assert state["best_metric"] == pytest.approx(max(entry["eval_mr"] for entry in evaluated))
    for name in ("model.safetensors", "config.json", "modeling_rs_dual_encoder.py", "processor_config.json",
                 "tokenizer.json"):
        assert (out / name).exists(), name


def test_logit_scale_is_clamped_after_every_optimizer_step(synthetic_32, tmp_path):
    """A start whose temperature is above the cap: one tiny optimizer step barely moves it, so only the clamp
    callback can bring it down to `logit_scale_max` (without the callback this test fails)."""
    from rs_retrieval import DualEncoderConfig, DualEncoderModel
    from rs_retrieval.tokenizer import default_processor

    config = DualEncoderConfig(logit_scale_init_value=4.0, logit_scale_max=4.6)
    config.vision_config.image_size = 32
    hot = DualEncoderModel(config)
    with torch.no_grad():
        hot.logit_scale.fill_(6.0)  # as if a run without the clamp had let it grow
    hot.save_pretrained(tmp_path / "hot_start")
    default_processor(image_size=32).save_pretrained(tmp_path / "hot_start")
    assert _train(tmp_path / "clamped", synthetic_32, "--model_name_or_path", str(tmp_path / "hot_start"),
                  "--max_steps", "1", "--learning_rate", "1e-6", "--eval_strategy", "no", "--save_strategy", "no",
                  "--load_best_model_at_end", "false") == 0
    assert DualEncoderModel.from_pretrained(tmp_path / "clamped").logit_scale.item() == pytest.approx(4.6)


def test_bad_arguments_are_named(synthetic_32, tmp_path, capsys):
    assert _train(tmp_path / "x", synthetic_32, "--languages", "fr", "--max_steps", "1") == 2
    assert "captions_fr" in capsys.readouterr().err
    assert _train(tmp_path / "y", str(tmp_path / "no-such-folder"), "--max_steps", "1") == 2
    assert "no-such-folder: no such folder" in capsys.readouterr().err


def test_evaluate_script_writes_table_and_provenance(synthetic_32, tmp_path, capsys):
    from rs_retrieval import DualEncoderModel
    from rs_retrieval.tokenizer import default_processor

    DualEncoderModel(_small_config()).save_pretrained(tmp_path / "ckpt")
    default_processor(image_size=32).save_pretrained(tmp_path / "ckpt")
    assert evaluate_script.main(["--model", str(tmp_path / "ckpt"), "--dataset", synthetic_32, "--split", "test",
                                 "--out", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]) == 0
    printed = capsys.readouterr().out
    assert "| model / queries | i2t R@1 |" in printed and "/ en+ar |" in printed
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["split"] == "test" and report["images"] == 40 and report["captions"] == {"en": 200, "ar": 200}
    assert set(report["results"]) == {"en", "ar", "en+ar"} and "rs_retrieval" in report["code_version"]


def test_metric_module_loads_with_evaluate():
    import evaluate

    metric = evaluate.load(str(REPO / "rs_retrieval" / "metrics" / "retrieval_recall"))
    result = metric.compute(predictions=[[1.0, 0.0], [0.0, 1.0]], references=[0, 1],
                            image_embeds=[[1.0, 0.0], [0.0, 1.0]])
    assert result["mr"] == 100.0


def _small_config():
    from rs_retrieval import DualEncoderConfig

    config = DualEncoderConfig()
    config.vision_config.image_size = 32
    return config


def test_each_tower_can_have_its_own_learning_rate(synthetic_32, tmp_path):
    from transformers import TrainingArguments

    from rs_retrieval import DualEncoderModel
    from rs_retrieval.training import DualEncoderTrainer

    model = DualEncoderModel(_small_config())
    trainer = DualEncoderTrainer(model=model,
                                 args=TrainingArguments(str(tmp_path), learning_rate=1e-3, weight_decay=0.1,
                                                        report_to="none"),
                                 tower_learning_rates={"vision_model": 5e-3, "text_model": 1e-5})
    optimizer = trainer.create_optimizer()
    rate_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    decay_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert rate_of[id(model.vision_model.embeddings.patch_embeddings.projection.weight)] == 5e-3
    assert rate_of[id(model.text_model.embeddings.word_embeddings.weight)] == 1e-5
    assert rate_of[id(model.visual_projection.weight)] == 1e-3
    assert decay_of[id(model.logit_scale)] == 0.0 and decay_of[id(model.visual_projection.weight)] == 0.1
    assert decay_of[id(model.vision_model.embeddings.cls_token)] == 0.0
    assert decay_of[id(model.vision_model.embeddings.position_embeddings)] == 0.0
    assert len(rate_of) == sum(1 for p in model.parameters() if p.requires_grad)


def test_limiting_a_class_sorted_split_keeps_many_classes():
    from datasets import Dataset, DatasetDict

    rows = {"image_id": list(range(100)), "label": [i // 10 for i in range(100)],
            "captions_en": [["a caption"]] * 100}
    dataset = DatasetDict({"validation": Dataset.from_dict(rows)})
    limited = select_split(dataset, "validation", ["en"], limit=20, seed=0)
    assert len(limited) == 20 and len(set(limited["label"])) >= 5
    again = select_split(dataset, "validation", ["en"], limit=20, seed=0)
    assert limited["image_id"] == again["image_id"]
