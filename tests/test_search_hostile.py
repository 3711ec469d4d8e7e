"""`rs-retrieval index | search | classify` against careless and hostile input: every case is one line on stderr
and exit code 2 (a bad argument) or 1 (a bad file), never a traceback, never a silent wrong answer.

A tiny untrained model is enough: these tests are about what is refused, not about retrieval quality.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from commands import classify, index, search
from PIL import Image

from rs_retrieval import DualEncoderModel, DualEncoderProcessor
from rs_retrieval.checkpoints import CheckpointError
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.search import RetrievalIndex, SearchError
from rs_retrieval.search.integrity import DamagedIndexError
from rs_retrieval.search.store import EMBEDDINGS, MANIFEST
from rs_retrieval.search.zero_shot import ENGLISH_TEMPLATES, PromptSet

#: Text that normalises to nothing a model can match: tatweel, tashkeel, zero-width characters, punctuation.
WORDLESS = {"tatweel": "ـــــ", "tashkeel": "\u064e\u064f\u0650\u0651", "zero-width": "\u200b\u200c\u200d\ufeff",
            "punctuation": "?! ... ،؟", "bidi marks": "\u200f\u202b\u202c"}


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture(scope="module")
def pickled_checkpoint(checkpoint, tmp_path_factory) -> Path:
    """The same checkpoint with its weights only as a pickle (pytorch_model.bin)."""
    path = Path(shutil.copytree(checkpoint, tmp_path_factory.mktemp("pickled") / "model"))
    torch.save(DualEncoderModel.from_pretrained(checkpoint).state_dict(), path / "pytorch_model.bin")
    (path / "model.safetensors").unlink()
    return path


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile_gallery")
    for row in make_synthetic_dataset(splits={"test": 1}, image_size=32)["test"].select(range(5)):
        row["image"].save(folder / row["filename"])
    return folder


@pytest.fixture(scope="module")
def built(checkpoint, gallery, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile_index") / "index"
    assert index.main(["--model", str(checkpoint), "--images", str(gallery), "--out", str(out), "--no-progress"]) == 0
    return out


def one_error_line(capsys, prog: str) -> str:
    """The error line of a failed command (transformers' own progress bars aside); there must be exactly one."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def usage_error(capsys, main, argv: list[str]) -> str:
    """argparse's own refusals: exit code 2 and the message in one line on stderr, no usage screen."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err, err
    return err


# -- queries and labels without words -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", list(WORDLESS.values()), ids=list(WORDLESS))
def test_a_query_without_words_is_refused_by_the_command(built, capsys, text):
    assert "no letter or digit" in usage_error(capsys, search.main, ["--index", str(built), "--text", text])


@pytest.mark.parametrize("text", list(WORDLESS.values()), ids=list(WORDLESS))
def test_a_query_without_words_is_refused_by_the_api(built, text):
    loaded = RetrievalIndex.load(built)
    with pytest.raises(SearchError, match="no letter or digit"):
        loaded.search_text(text)


def test_a_label_without_words_is_refused_in_either_language(checkpoint, gallery, capsys):
    common = ["--model", str(checkpoint), "--images", str(gallery), "--no-progress"]
    assert classify.main([*common, "--labels", f"river,{WORDLESS['tatweel']}"]) == 2
    assert "no letter or digit" in one_error_line(capsys, "rs-retrieval classify")
    assert classify.main([*common, "--labels", "river,forest", "--labels-ar", f"نهر,{WORDLESS['tashkeel']}"]) == 2
    assert "ar label(s)" in one_error_line(capsys, "rs-retrieval classify")


def test_a_template_needs_a_label_slot_and_no_other():
    with pytest.raises(SearchError, match="must use {label}"):
        PromptSet("en", ("river",), ("an aerial photograph",))
    with pytest.raises(SearchError, match="must use {label}"):
        PromptSet("en", ("river",), ("{label} near {place}",))
    assert PromptSet("en", ("river",), ENGLISH_TEMPLATES).prompts("river")[0] == "an aerial photograph of river"


def test_classify_refuses_repeated_labels_and_a_bad_top(checkpoint, gallery, capsys):
    common = ["--model", str(checkpoint), "--images", str(gallery)]
    assert "repeats a name" in usage_error(capsys, classify.main, [*common, "--labels", "River,river"])
    assert "must be a positive number" in usage_error(
        capsys, classify.main, [*common, "--labels", "river", "--top", "0"])


# -- safetensors only -------------------------------------------------------------------------------------------------


def test_a_pickle_only_checkpoint_is_refused_by_every_command(pickled_checkpoint, built, gallery, tmp_path, capsys):
    model = str(pickled_checkpoint)
    assert index.main(["--model", model, "--images", str(gallery), "--out", str(tmp_path / "i"), "--no-progress"]) == 1
    assert "pytorch_model.bin: pickled weights are not loaded" in one_error_line(capsys, "rs-retrieval index")
    assert search.main(["--index", str(built), "--model", model, "--text", "river"]) == 1
    assert "pickled weights are not loaded" in one_error_line(capsys, "rs-retrieval search")
    assert classify.main(["--model", model, "--images", str(gallery), "--labels", "river", "--no-progress"]) == 1
    assert "pickled weights are not loaded" in one_error_line(capsys, "rs-retrieval classify")


def test_an_index_whose_manifest_names_a_pickle_only_checkpoint_is_not_loaded(pickled_checkpoint, built, tmp_path):
    copy = Path(shutil.copytree(built, tmp_path / "index"))
    manifest = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    (copy / MANIFEST).write_text(json.dumps({**manifest, "model": str(pickled_checkpoint)}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="pickled weights are not loaded"):
        RetrievalIndex.load(copy)


# -- search arguments --------------------------------------------------------------------------------------------------


def test_search_names_a_bad_index_or_query_image(built, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not an image")
    cases = [
        (["--index", str(tmp_path / "notes.txt"), "--text", "river"], 2, "is a file, not an index folder"),
        (["--index", str(built), "--image", str(tmp_path)], 2, "is a folder, not a file"),
        (["--index", str(built), "--image", str(tmp_path / "notes.txt")], 2, "query image"),
        (["--index", str(built), "--text", "river", "--grid", str(tmp_path)], 2, "--grid"),
    ]
    for argv, code, message in cases:
        assert search.main(argv) == code, argv
        assert message in one_error_line(capsys, "rs-retrieval search")


def test_a_decompression_bomb_as_query_image_is_one_line(built, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb, optimize=False)  # 400 megapixels, a few kB on disk
    assert search.main(["--index", str(built), "--image", str(bomb)]) in (1, 2)
    assert "bomb.png" in one_error_line(capsys, "rs-retrieval search")


def test_search_bounds_k_and_the_tile_size(built, capsys):
    assert "must be a positive number" in usage_error(
        capsys, search.main, ["--index", str(built), "--text", "a", "-k", "0"])
    assert "between 16 and 1024" in usage_error(
        capsys, search.main, ["--index", str(built), "--text", "a", "--tile", "100000"])
    assert search.main(["--index", str(built), "--text", "river", "-k", str(10**12), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 5, "k beyond the gallery returns the gallery"


def test_debug_shows_the_traceback(built, tmp_path):
    copy = Path(shutil.copytree(built, tmp_path / "index"))
    manifest = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    (copy / manifest["build"] / EMBEDDINGS).write_bytes(b"broken")
    with pytest.raises(DamagedIndexError):
        search.main(["--index", str(copy), "--text", "river", "--debug"])


# -- index arguments ---------------------------------------------------------------------------------------------------


def test_index_refuses_an_out_that_is_a_file_or_a_folder_of_other_things(checkpoint, gallery, tmp_path, capsys):
    common = ["--model", str(checkpoint), "--images", str(gallery), "--no-progress"]
    (tmp_path / "file").write_text("keep me")
    assert index.main([*common, "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in one_error_line(capsys, "rs-retrieval index")
    home = tmp_path / "home"
    (home / "build-2024").mkdir(parents=True)
    (home / "build-2024" / "thesis.tex").write_text("keep me too")
    assert index.main([*common, "--out", str(home)]) == 2
    assert "holds other files and no index" in one_error_line(capsys, "rs-retrieval index")
    assert (home / "build-2024" / "thesis.tex").read_text() == "keep me too"
    assert "must be a positive number" in usage_error(
        capsys, index.main, [*common, "--out", str(home), "--batch-size", "0"])


def test_a_damaged_index_is_reported_by_index_and_repaired_by_rebuild(built, checkpoint, gallery, tmp_path, capsys):
    copy = Path(shutil.copytree(built, tmp_path / "index"))
    manifest = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    (copy / manifest["build"] / EMBEDDINGS).write_bytes(b"broken")
    common = ["--model", str(checkpoint), "--images", str(gallery), "--out", str(copy), "--no-progress"]
    assert index.main(common) == 1
    assert "damaged" in one_error_line(capsys, "rs-retrieval index")
    assert index.main([*common, "--rebuild"]) == 0
    assert "5 of 5 images indexed (5 newly embedded" in capsys.readouterr().out
    assert search.main(["--index", str(copy), "--text", "river", "-k", "2"]) == 0


def test_a_grid_of_an_index_of_loose_images_says_why_its_tiles_are_grey(checkpoint, gallery, tmp_path, capsys):
    model, processor = DualEncoderModel.from_pretrained(checkpoint), DualEncoderProcessor.from_pretrained(checkpoint)
    paths = sorted(str(p) for p in gallery.glob("*.png"))
    RetrievalIndex.build(model, processor, images=paths).save(tmp_path / "saved")
    grid = tmp_path / "grid.png"
    common = ["--index", str(tmp_path / "saved"), "--model", str(checkpoint), "--text", "river", "-k", "2",
              "--grid", str(grid), "--tile", "32"]
    assert search.main(common) == 0
    assert "note: 2 result image(s) drawn grey: " in capsys.readouterr().err and grid.exists()
    assert search.main([*common, "--gallery", str(gallery)]) == 0
    assert "drawn grey" not in capsys.readouterr().err
