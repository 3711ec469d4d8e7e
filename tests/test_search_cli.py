"""The index / search / classify commands, end to end, with a small model trained here on the synthetic scenes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from commands import classify, index, search, train
from PIL import Image
from transformers import BertConfig, ViTConfig

from rs_retrieval import DualEncoderConfig
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.explain.grid import grid_size

SCENES_EN = "airport,farmland,river,bridge,residential,forest,beach,parking lot,storage tanks,stadium"
SCENES_AR = "مطار,أراض زراعية,نهر,جسر,منطقة سكنية,غابة,شاطئ,موقف سيارات,خزانات تخزين,ملعب رياضي"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A 32 px ViT + BERT (48 wide, 2 layers) trained for 300 steps on 20 synthetic images per scene; the 4-per-scene
    test split saved as a dataset and written out as a folder of PNGs (the gallery)."""
    root = tmp_path_factory.mktemp("search_cli")
    vision = ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=96)
    text = BertConfig(vocab_size=400, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                      max_position_embeddings=64, pad_token_id=1)
    DualEncoderConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), projection_dim=32).save_pretrained(
        root / "config")
    data = make_synthetic_dataset(splits={"train": 20, "test": 4}, image_size=32)
    data.save_to_disk(str(root / "data"))
    assert train.main(["--dataset", str(root / "data"), "--config", str(root / "config"), "--output_dir",
                       str(root / "model"), "--image_size", "32", "--lowercase", "true", "--augment", "false",
                       "--per_device_train_batch_size", "50", "--max_steps", "300", "--learning_rate", "3e-3",
                       "--eval_split", "test", "--eval_strategy", "no", "--save_strategy", "no",
                       "--load_best_model_at_end", "false", "--disable_tqdm", "true", "--report_to", "none",
                       "--logging_steps", "300"]) == 0
    gallery = root / "gallery"
    for n, row in enumerate(data["test"]):
        folder = gallery / ("a" if n % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        row["image"].save(folder / row["filename"])
    return {"model": root / "model", "data": root / "data", "gallery": gallery, "root": root}


@pytest.fixture(scope="module")
def built_index(trained) -> Path:
    out = trained["root"] / "index"
    assert index.main(["--model", str(trained["model"]), "--images", str(trained["gallery"]), "--out", str(out),
                       "--no-progress"]) == 0
    return out


def run_search(capsys, *arguments: str) -> tuple[int, str, str]:
    code = search.main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def scene_of(path: str) -> str:
    return Path(path).name.rsplit("_", 1)[0]


# -- search -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query, scene", [
    ("an airport with airplanes parked next to the runway", "airport"),
    ("طائرات متوقفة بجانب المدرج في المطار", "airport"),
    ("a dense forest of dark green trees", "forest"),
    ("غابة كثيفة من الأشجار الخضراء الداكنة", "forest"),
], ids=["english airport", "arabic airport", "english forest", "arabic forest"])
def test_english_and_arabic_queries_find_their_scene_type_at_the_top(built_index, capsys, query, scene):
    code, out, _ = run_search(capsys, "--index", str(built_index), "--text", query, "-k", "5", "--json")
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == {"query", "results"} and answer["query"] == query
    scenes = [scene_of(result["path"]) for result in answer["results"]]
    assert scenes.count(scene) >= 3, scenes  # 4 of the 40 images show each scene: by chance 0.5 of the top 5
    scores = [result["score"] for result in answer["results"]]
    assert scores == sorted(scores, reverse=True) and all(Path(r["path"]).exists() for r in answer["results"])


def test_an_image_query_finds_the_image_itself_first(built_index, trained, capsys):
    image = sorted(trained["gallery"].rglob("river_*.png"))[0]
    code, out, _ = run_search(capsys, "--index", str(built_index), "--image", str(image), "-k", "3", "--json")
    best = json.loads(out)["results"][0]
    assert code == 0 and best["path"] == str(image) and best["score"] == pytest.approx(1.0, abs=1e-4)


def test_the_table_and_the_grid_picture(built_index, capsys, tmp_path):
    grid = tmp_path / "grid.png"
    code, out, _ = run_search(capsys, "--index", str(built_index), "--text", "صورة جوية لملعب رياضي", "-k", "5",
                              "--grid", str(grid), "--tile", "64")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "query: صورة جوية لملعب رياضي" and "40 images, flat_ip" in lines[1]
    assert lines[2].split() == ["rank", "score", "path"]
    assert [line.split()[0] for line in lines[3:8]] == ["1", "2", "3", "4", "5"] and f"wrote {grid}" in lines[8]
    with Image.open(grid) as picture:
        assert picture.size == grid_size(5, tile=64)


def test_search_names_what_is_wrong(built_index, capsys, tmp_path, tiny_tokenizer):
    assert search.main(["--index", str(built_index), "-k", "3"]) == 2
    assert "one of the arguments --text --image is required" in capsys.readouterr().err
    assert search.main(["--index", str(built_index), "--text", "river", "--image", "x.png"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err

    code, _, err = run_search(capsys, "--index", str(tmp_path / "nowhere"), "--text", "river")
    assert code == 2 and "no such index folder" in err
    code, _, err = run_search(capsys, "--index", str(built_index), "--image", str(tmp_path / "missing.png"))
    assert code == 2 and "missing.png: no such file" in err

    from tiny_models import IMAGE_SIZE, tiny_config

    from rs_retrieval import DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor

    other = tmp_path / "other_model"  # a 16-dimensional model against the 32-dimensional index
    DualEncoderModel(tiny_config(len(tiny_tokenizer))).save_pretrained(other)
    DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer).save_pretrained(other)
    code, _, err = run_search(capsys, "--index", str(built_index), "--model", str(other), "--text", "river")
    assert code == 2 and "dimension mismatch: the model embeds into 16 dimensions, the index holds 32" in err


# -- index --------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_index_reports_a_corrupt_image_and_indexes_the_rest(trained, capsys, tmp_path):
    gallery = tmp_path / "gallery"
    for source in sorted((trained["gallery"] / "a").glob("*.png"))[:5]:
        (gallery / source.name).parent.mkdir(parents=True, exist_ok=True)
        (gallery / source.name).write_bytes(source.read_bytes())
    (gallery / "corrupt.tif").write_bytes(b"II*\x00garbage")
    out = tmp_path / "index"
    assert index.main(["--model", str(trained["model"]), "--images", str(gallery), "--out", str(out),
                       "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "5 of 6 images indexed" in printed and "1 image(s) skipped" in printed
    assert f"  {gallery / 'corrupt.tif'}: " in printed, "the file and its error"
    assert index.main(["--model", str(trained["model"]), "--images", str(gallery), "--out", str(out),
                       "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "up to date (5 of 6 images indexed" in printed and "corrupt.tif" in printed, "still reported, not retried"


def test_index_names_a_missing_or_empty_gallery(trained, capsys, tmp_path):
    common = ["--model", str(trained["model"]), "--out", str(tmp_path / "index")]
    assert index.main([*common, "--images", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert index.main([*common, "--images", str(tmp_path / "empty")]) == 2
    assert "the gallery is empty" in capsys.readouterr().err
    assert index.main([*common, "--images", str(trained["data"])]) == 2
    assert "choose one with --split" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


# -- classify -----------------------------------------------------------------------------------------------------


def test_zero_shot_labels_beat_chance_in_both_languages(trained, capsys, tmp_path):
    out = tmp_path / "labels.json"
    assert classify.main(["--model", str(trained["model"]), "--images", str(trained["data"]), "--split", "test",
                          "--labels", SCENES_EN, "--labels-ar", SCENES_AR, "--json", "--out", str(out),
                          "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(out.read_text(encoding="utf-8"))
    assert set(report["accuracy"]) == {"en", "ar", "en+ar"} and report["unlabelled"] == 0
    chance = 100 / 10
    for prompts, numbers in report["accuracy"].items():
        assert numbers["images"] == 40 and numbers["top1"] >= 3 * chance, (prompts, numbers)
        assert numbers["top5"] >= numbers["top1"]
    assert len(report["predictions"]) == 40
    first = report["predictions"][0]
    assert first["truth"] == "airport" and len(first["top"]) == 5 and first["label"] == first["top"][0]["label"]


def test_classify_prints_predictions_and_accuracy(trained, capsys):
    assert classify.main(["--model", str(trained["model"]), "--images", str(trained["gallery"]), "--labels",
                          "airport,river,forest", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["label", "score", "path"] and len(lines) == 41, "a folder has no ground truth"
    assert {line.split()[0] for line in lines[1:]} <= {"airport", "river", "forest"}


def test_classify_names_what_is_wrong(trained, capsys):
    common = ["--model", str(trained["model"]), "--images", str(trained["data"]), "--split", "test"]
    assert classify.main([*common, "--labels", SCENES_EN, "--label-column", "scene", "--no-progress"]) == 2
    assert "unknown label column 'scene'" in capsys.readouterr().err
    assert classify.main([*common, "--labels", "volcano,glacier", "--no-progress"]) == 2
    assert "matches a name in --labels ['volcano', 'glacier']" in capsys.readouterr().err
    assert classify.main([*common, "--labels", "airport,river", "--labels-ar", "مطار"]) == 2
    assert "--labels-ar has 1 names for 2 --labels" in capsys.readouterr().err
