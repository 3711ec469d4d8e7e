"""Hostile and careless input to the dataset builds: every case is a reported bad row or one clear line, never a
traceback, a hang, a file read from outside the inputs' roots, or an empty caption kept as if it were text."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from commands import build_dataset, make_synthetic
from datasets import load_from_disk
from test_build_dataset import build, caption, entry, tiny_marian, write_source
from test_image_limits import write_bilevel_png

from rs_retrieval.data.report import DatasetBuildError

build_main, synthetic_main = build_dataset.main, make_synthetic.main

WORDLESS = ["\u064e\u0650\u0652", "\u0640\u0640\u0640", "\u200b\u200f\ufeff", "... !?", " \u064b \u0640 . "]


def source_with(tmp_path: Path, extra: list[dict]) -> tuple[Path, Path]:
    """Two good images plus `extra` entries (whose files the test writes itself)."""
    good = [entry(f"good{i}.png", "train", i, 10 * i) for i in range(2)]
    annotations, images = write_source(tmp_path, "src", good)
    annotations.write_text(json.dumps({"images": good + extra}), encoding="utf-8")
    return annotations, images


def outside_file(tmp_path: Path) -> Path:
    """An image beside, not inside, the image folder: what an escaping file name would reach."""
    (tmp_path / "private").mkdir(exist_ok=True)
    shutil.copy(tmp_path / "src_images" / "good0.png", tmp_path / "private" / "secret.png")
    return tmp_path / "private" / "secret.png"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# ---------------------------------------------------------------- inputs stay inside their roots


@pytest.mark.parametrize("how", ["absolute", "dot-dot", "filepath", "symlink"])
def test_annotation_file_names_cannot_read_outside_the_image_folder(tmp_path, how):
    annotations, images = source_with(tmp_path, [])
    secret = outside_file(tmp_path)
    escaping = entry("x.png", "train", 7, 70)
    if how == "absolute":
        escaping["filename"] = str(secret)
    elif how == "dot-dot":
        escaping["filename"] = "../private/secret.png"
    elif how == "filepath":
        escaping.update(filename="secret.png", filepath="../private")
    else:
        os.symlink(secret, images / "link.png")
        escaping["filename"] = "link.png"
    annotations.write_text(json.dumps({"images": [*json.loads(annotations.read_text())["images"], escaping]}))
    dataset, report = build(annotations, images)
    assert dataset["train"]["filename"] == ["good0.png", "good1.png"]
    [problem] = report.problems
    assert problem.kind == "outside_image_folder" and problem.filename == escaping["filename"]
    assert str(tmp_path) not in problem.detail  # the report names the row, not the machine's folders
    with pytest.raises(DatasetBuildError, match="strict mode: src:.*outside_image_folder"):
        build(annotations, images, strict=True)


def test_a_symlink_that_stays_inside_the_image_folder_is_read(tmp_path):
    annotations, images = source_with(tmp_path, [entry("alias.png", "train", 5, 50)])
    os.symlink(images / "good0.png", images / "alias.png")
    dataset, report = build(annotations, images, dedup_threshold=None)
    assert report.problems == [] and "alias.png" in dataset["train"]["filename"]


def test_a_fifo_named_as_an_image_is_a_bad_row_not_a_hang(tmp_path):
    annotations, images = source_with(tmp_path, [entry("pipe.png", "train", 5, 50)])
    os.mkfifo(images / "pipe.png")
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(result=build(annotations, images)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert "result" in outcome, "the build blocked on the FIFO"
    [problem] = outcome["result"][1].problems
    assert problem.kind == "unreadable_image" and "not a regular file" in problem.detail


# ---------------------------------------------------------------- text that is empty once normalised


def test_captions_without_a_letter_or_digit_after_normalisation_are_reported(tmp_path):
    mixed = entry("mixed.png", "train", 5, 50)
    mixed["sentences"] = [{"raw": text} for text in WORDLESS] + [{"raw": "a green field"}]
    wordless = entry("wordless.png", "train", 6, 60)
    wordless["sentences"] = [{"raw": text} for text in WORDLESS]
    annotations, images = source_with(tmp_path, [mixed, wordless])
    for name in ("mixed.png", "wordless.png"):
        shutil.copy(images / "good0.png", images / name)
    dataset, report = build(annotations, images, dedup_threshold=None)
    row = dataset["train"][dataset["train"]["filename"].index("mixed.png")]
    assert row["captions_en"] == ["a green field"]
    assert "wordless.png" not in dataset["train"]["filename"]
    counts = report.problem_counts()
    assert counts == {"empty_caption": 2 * len(WORDLESS), "no_captions": 1}


def test_translations_without_a_letter_or_digit_are_bad_lines(tmp_path):
    annotations, images = source_with(tmp_path, [])
    english = caption(0, 0)
    jsonl = tmp_path / "ar.jsonl"
    jsonl.write_text("\n".join(json.dumps({"en": english, "ar": text}) for text in WORDLESS), encoding="utf-8")
    dataset, report = build(annotations, images, translations={"ar": jsonl})
    assert {p.kind for p in report.problems} == {"bad_translation_line"} and len(report.problems) == len(WORDLESS)
    assert all(row == [] for row in dataset["train"]["captions_ar"])


@pytest.mark.parametrize("where", ["caption", "translation", "filename", "class"])
def test_text_that_is_not_valid_unicode_is_a_bad_row(tmp_path, where):
    bad = entry("odd.png", "train", 5, 50)
    if where == "caption":
        bad["sentences"][0]["raw"] = "a field \ud800"
    elif where == "filename":
        bad["filename"] = "odd\udc00.png"
    elif where == "class":
        bad["class"] = "forest\ud800"
    annotations, images = source_with(tmp_path, [bad] if where != "translation" else [])
    shutil.copy(images / "good0.png", images / "odd.png")
    translations = {}
    if where == "translation":
        jsonl = tmp_path / "ar.jsonl"
        jsonl.write_text(json.dumps({"en": caption(0, 0), "ar": "حقل \udc00"}), encoding="utf-8")
        translations = {"ar": jsonl}
    dataset, report = build(annotations, images, translations=translations, dedup_threshold=None)
    [problem] = report.problems
    assert "Unicode" in problem.detail
    assert set(dataset["train"]["filename"]) <= {"good0.png", "good1.png", "odd.png"}


# ---------------------------------------------------------------- annotation files of the wrong shape


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("[]", "top level is a list"),
        ('"images"', "top level is a string"),
        ('{"images": {"a.png": 1}}', "'images' is an object, not a list"),
        ("\xff\xfe", "not a valid JSON"),
    ],
)
def test_annotation_files_of_the_wrong_shape_are_one_clear_error(tmp_path, content, message):
    annotations = tmp_path / "odd.json"
    annotations.write_text(content, encoding="latin-1")
    with pytest.raises(DatasetBuildError, match=f"odd.json: .*{message}"):
        build(annotations, tmp_path)


def test_images_above_the_pixel_limit_are_reported_by_name(tmp_path):
    annotations, images = source_with(tmp_path, [entry("huge.png", "train", 5, 50)])
    write_bilevel_png(images / "huge.png", 12000, 10100)
    dataset, report = build(annotations, images)
    [problem] = report.problems
    assert problem.kind == "image_too_large" and problem.filename == "huge.png"
    assert "121,200,000 pixels" in problem.detail and "huge.png" not in dataset["train"]["filename"]


# ---------------------------------------------------------------- the build-dataset command


@pytest.fixture
def small_source(tmp_path):
    return source_with(tmp_path, [])


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--band-indices", "2,1"], 2, "three band positions"),
        (["--translate-batch-size", "0"], 2, "positive"),
        (["--target-language", "en"], 2, "target language"),
        (["--target-language", ""], 2, "target language"),
    ],
)
def test_bad_build_arguments_exit_2_with_one_line(small_source, tmp_path, capsys, extra, code, message):
    annotations, images = small_source
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(tmp_path / "o"), *extra]
    assert build_main([*args, "--no-progress"]) == code
    assert message in one_line_error(capsys)


def test_an_out_folder_that_cannot_be_created_fails_before_the_build(small_source, tmp_path, capsys):
    annotations, images = small_source
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(annotations / "sub")]
    assert build_main([*args, "--no-progress"]) == 1
    assert "is a file, not a folder" in one_line_error(capsys)
    assert capsys.readouterr().out == ""  # refused before the build


@pytest.mark.parametrize("target", ["images", "parent", "annotations"])
def test_out_may_not_replace_an_input(small_source, tmp_path, capsys, target):
    annotations, images = small_source
    out = {"images": images, "parent": tmp_path, "annotations": annotations}[target]
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(out), "--overwrite"]
    assert build_main([*args, "--no-progress"]) == 2
    assert "holds an input" in one_line_error(capsys)
    assert (images / "good0.png").is_file() and annotations.is_file()


def test_images_that_is_a_file_says_so(small_source, tmp_path, capsys):
    annotations, _ = small_source
    args = ["--annotations", str(annotations), "--images", str(annotations), "--out", str(tmp_path / "o")]
    assert build_main([*args, "--no-progress"]) == 1
    assert "not a folder" in one_line_error(capsys)


def test_a_translate_model_that_does_not_load_is_one_line(small_source, tmp_path, capsys):
    annotations, images = small_source
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(tmp_path / "o")]
    assert build_main([*args, "--translate-model", str(images), "--no-progress"]) == 1
    assert "--translate-model" in one_line_error(capsys)


def test_a_pickle_only_translate_model_is_refused(small_source, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file

    model = tiny_marian(tmp_path / "mt")
    torch.save(load_file(model / "model.safetensors"), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    capsys.readouterr()  # the progress bar of saving the model
    annotations, images = small_source
    args = ["--annotations", str(annotations), "--images", str(images), "--out", str(tmp_path / "o")]
    assert build_main([*args, "--translate-model", str(model), "--no-progress"]) == 1
    assert "safetensors" in one_line_error(capsys) and not (tmp_path / "o").exists()


def test_a_surrogate_in_the_annotations_still_builds(tmp_path, capsys):
    bad = entry("odd.png", "train", 5, 50)
    bad["sentences"] = [{"raw": "\udcff"}]
    annotations, images = source_with(tmp_path, [bad])
    shutil.copy(images / "good0.png", images / "odd.png")
    out = tmp_path / "o"
    assert build_main(["--annotations", str(annotations), "--images", str(images), "--out", str(out),
                       "--no-progress"]) == 0
    assert load_from_disk(str(out))["train"].num_rows == 2


# ---------------------------------------------------------------- the make-synthetic command


SMALL = ["--image-size", "32", "--train-per-scene", "1", "--val-per-scene", "1", "--test-per-scene", "1"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--image-size", "0"], "at least"),
        (["--train-per-scene", "-1"], "at least 0"),
        (["--train-per-scene", "0", "--val-per-scene", "0", "--test-per-scene", "0"], "at least one image"),
        (["--image-size", "4"], "at least"),
        (["--image-size", "20000"], "pixels, more than the limit"),
    ],
)
def test_bad_synthetic_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    assert synthetic_main(["--out", str(tmp_path / "s"), *SMALL, *extra]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "s").exists()


def test_make_synthetic_never_overwrites_without_being_asked(tmp_path, capsys):
    out = tmp_path / "s"
    assert synthetic_main(["--out", str(out), *SMALL]) == 0
    capsys.readouterr()  # the progress bars of the first run
    before = sorted(path.name for path in out.iterdir())
    assert synthetic_main(["--out", str(out), *SMALL, "--seed", "1"]) == 1
    assert "not empty" in one_line_error(capsys)
    assert sorted(path.name for path in out.iterdir()) == before
    assert synthetic_main(["--out", str(out), *SMALL, "--seed", "1", "--overwrite"]) == 0
    assert load_from_disk(str(out))["train"].num_rows > 0
    assert [path.name for path in tmp_path.iterdir()] == ["s"]  # no staging folder left


def test_make_synthetic_out_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    assert synthetic_main(["--out", str(target), *SMALL]) == 1
    assert "not a folder" in one_line_error(capsys) and target.read_text() == "keep me"
