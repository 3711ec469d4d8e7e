"""Bad input to train, evaluate, visualize, query and train-tokenizer: one line naming the problem, never a traceback.

Each case runs the command's `main` in-process on a tiny checkpoint and a tiny saved dataset and checks the exit
code (2 for a bad argument, 1 for a failure) and that stderr is one `PROG: error: ...` line naming the problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from commands import evaluate, query, train, train_tokenizer, visualize
from PIL import Image
from tiny_models import IMAGE_SIZE, tiny_config

from rs_retrieval import DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.training.recipe import parse_arguments

TASHKEEL_ONLY = "\u064e\u064f\u0650\u0640\u200b"  # fatha, damma, kasra, tatweel, zero-width space


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_tokenizer) -> Path:
    """A tiny safetensors checkpoint, a pickle-only copy of it, a dataset built without a validation split
    (as `build_dataset.py` makes by default), a folder of two images and a plain file."""
    root = tmp_path_factory.mktemp("bad_input")
    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(len(tiny_tokenizer)))
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tiny_tokenizer, max_length=24)
    model.save_pretrained(root / "model")
    processor.save_pretrained(root / "model")
    pickled = root / "pickled"
    model.config.save_pretrained(pickled)
    processor.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    make_synthetic_dataset(splits={"train": 1, "test": 1}, image_size=32).save_to_disk(str(root / "data"))
    (root / "images").mkdir()
    for n in range(2):
        Image.new("RGB", (32, 32), (40 * n, 90, 160)).save(root / "images" / f"tile_{n}.png")
    (root / "empty").mkdir()
    (root / "file.txt").write_text("not a folder\n", encoding="utf-8")
    return root


def fails(main, argv: list[str], capsys) -> tuple[int, str]:
    """Run a command that must fail; return its exit code and its one error line (after checking there is one)."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    return code, lines[0]


# -- train ------------------------------------------------------------------------------------------------------------


def train_args(saved: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--output_dir", str(tmp_path / "out"), "--dataset", str(saved / "data"), "--eval_split", "test",
            "--max_steps", "1", "--report_to", "none", "--disable_tqdm", "true", *extra]


@pytest.mark.parametrize("extra, code, names", [
    (["--bogus", "1"], 2, "--bogus"),
    (["--max_steps", "abc"], 2, "invalid int value: 'abc'"),
    (["--eval_strategy", "sometimes"], 2, "invalid choice: 'sometimes'"),
    (["--eval_strategy", "steps", "--save_strategy", "epoch"], 2, "load_best_model_at_end"),
    (["--languages", "fr"], 2, "captions_fr"),
    (["--languages", " , "], 2, "--languages"),
    (["--train_split", "training"], 2, "'training'"),
    (["--image_size", "0"], 2, "--image_size"),
    (["--text_pooling", "max"], 2, "--text_pooling"),
    (["--max_train_images", "0"], 2, "--max_train_images"),
    (["--model_name_or_path", "MISSING"], 2, "MISSING"),
    (["--text_model", "MISSING"], 2, "MISSING"),
    (["--vision_model", "MISSING"], 2, "MISSING"),
    (["--tokenizer", "MISSING"], 2, "MISSING"),
    (["--config", "MISSING"], 2, "MISSING"),
    (["--resume_from_checkpoint", "MISSING"], 2, "MISSING"),
    (["--model_name_or_path", "PICKLED"], 1, "pytorch_model.bin"),
    (["--text_model", "PICKLED"], 1, "pytorch_model.bin"),
    (["--vision_model", "PICKLED"], 1, "pytorch_model.bin"),
    (["--resume_from_checkpoint", "PICKLED"], 1, "pytorch_model.bin"),
    (["--config", "FILE"], 2, "FILE"),
    (["--hub_token", "hf_secret"], 2, "HF_TOKEN"),
    (["--hub_token=hf_secret"], 2, "HF_TOKEN"),
    (["--per_device_train_batch_size", "0"], 2, "--per_device_train_batch_size"),
    (["--per_device_eval_batch_size", "-1"], 2, "--per_device_eval_batch_size"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_train_names_each_bad_argument_in_one_line(saved, tmp_path, capsys, extra, code, names):
    places = {"MISSING": str(tmp_path / "missing"), "PICKLED": str(saved / "pickled"), "FILE": str(saved / "file.txt")}
    extra = [places.get(value, value).replace("MISSING", places["MISSING"]) for value in extra]
    names = places.get(names, names)
    got, line = fails(train.main, train_args(saved, tmp_path, *extra), capsys)
    assert line.startswith("rs-retrieval train: error: ") and names in line and got == code, line
    assert "hf_secret" not in line


def test_train_refuses_a_dataset_that_is_missing_or_not_a_dataset(saved, tmp_path, capsys):
    for folder in (tmp_path / "missing", saved / "empty", saved / "file.txt"):
        code, line = fails(train.main, train_args(saved, tmp_path, "--dataset", str(folder)), capsys)
        assert code == 2 and str(folder) in line and "--dataset" in line, line


def test_a_missing_eval_split_says_how_to_fix_it(saved, tmp_path, capsys):
    """The README's UCM example on a dataset built without --val-fraction: the message gives the three fixes."""
    argv = [a for a in train_args(saved, tmp_path) if a not in ("--eval_split", "test")]
    code, line = fails(train.main, argv, capsys)
    assert code == 2 and "'validation'" in line and "['test', 'train']" in line, line
    for fix in ("--val-fraction", "--eval_split test", "--eval_strategy no"):
        assert fix in line, fix


def test_eval_strategy_no_alone_turns_off_loading_the_best_model(tmp_path):
    _, _, arguments = parse_arguments(["--output_dir", str(tmp_path), "--eval_strategy", "no"])
    assert arguments.load_best_model_at_end is False
    _, _, arguments = parse_arguments(["--output_dir", str(tmp_path)])
    assert arguments.load_best_model_at_end is True


def test_an_output_dir_that_is_a_file_is_refused_before_training(saved, tmp_path, capsys):
    code, line = fails(train.main, train_args(saved, tmp_path, "--output_dir", str(saved / "file.txt")), capsys)
    assert code == 2 and "--output_dir" in line and "file.txt" in line
    assert (saved / "file.txt").read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize("name, text, names", [
    ("missing.yaml", None, "missing.yaml"),
    ("broken.yaml", "output_dir: [unclosed\n", "broken.yaml"),
    ("list.yaml", "- output_dir\n- out\n", "mapping"),
    ("unknown.yaml", "output_dir: out\nbogus: 1\n", "bogus"),
    ("broken.json", '{"output_dir": ', "broken.json"),
    ("token.yaml", "output_dir: out\nhub_token: hf_secret\n", "HF_TOKEN"),
])
def test_train_args_file_problems_are_one_line(tmp_path, capsys, name, text, names):
    if text is not None:
        (tmp_path / name).write_text(text, encoding="utf-8")
    code, line = fails(train.main, [str(tmp_path / name)], capsys)
    assert code == 2 and names in line and "hf_secret" not in line, line


def test_an_args_file_gets_the_recipe_defaults(tmp_path):
    (tmp_path / "args.yaml").write_text(f"output_dir: {tmp_path / 'out'}\nlearning_rate: 0.001\n", encoding="utf-8")
    _, _, arguments = parse_arguments([str(tmp_path / "args.yaml")])
    assert arguments.remove_unused_columns is False and arguments.learning_rate == 0.001


# -- evaluate ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, code, names", [
    (["--model", "MISSING"], 2, "MISSING"),
    (["--model", "PICKLED"], 1, "pytorch_model.bin"),
    (["--dataset", "MISSING"], 2, "MISSING"),
    (["--split", "validation"], 2, "'validation'"),
    (["--languages", "fr"], 2, "captions_fr"),
    (["--batch-size", "0"], 2, "--batch-size"),
    (["--out", "FILE/results.json"], 1, "file.txt"),
])
def test_evaluate_names_each_bad_argument_in_one_line(saved, tmp_path, capsys, extra, code, names):
    argv = ["--model", str(saved / "model"), "--dataset", str(saved / "data"), "--split", "test", *extra]
    argv = [_place(value, saved, tmp_path) for value in argv]
    got, line = fails(evaluate.main, argv, capsys)
    assert line.startswith("rs-retrieval evaluate: error: ") and _place(names, saved, tmp_path) in line, line
    assert got == code, line


def _place(value: str, saved: Path, tmp_path: Path) -> str:
    return (value.replace("MISSING", str(tmp_path / "missing")).replace("PICKLED", str(saved / "pickled"))
            .replace("FILE", str(saved / "file.txt")))


# -- visualize --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, code, names", [
    (["attention", "--row", "99"], 2, "--row 99"),
    (["attention", "--row", "-1"], 2, "--row -1"),
    (["attention", "--row", "0", "--text", ""], 2, "--text"),
    (["attention", "--row", "0", "--text", TASHKEEL_ONLY], 2, "--text"),
    (["attention", "--image", "MISSING.png"], 1, "MISSING.png"),
    (["attention", "--row", "0", "--size", "0"], 2, "--size"),
    (["attention", "--row", "0", "--model", "PICKLED"], 1, "pytorch_model.bin"),
    (["attention", "--row", "0", "--split", "validation"], 2, "'validation'"),
    (["grid", "--caption-row", "0", "--language", "fr"], 2, "captions_fr"),
    (["grid", "--caption-row", "0", "--caption-index", "9"], 2, "--caption-index 9"),
    (["grid", "--text", TASHKEEL_ONLY], 2, "--text"),
    (["grid", "--text", "a river", "-k", "0"], 2, "-k"),
    (["tsne", "--languages", "fr"], 2, "captions_fr"),
    (["tsne", "--max-images", "0"], 2, "--max-images"),
    (["tsne", "--dataset", "MISSING"], 2, "MISSING"),
])
def test_visualize_names_each_bad_argument_in_one_line(saved, tmp_path, capsys, argv, code, names):
    argv = [*argv[:1], "--model", str(saved / "model"), "--dataset", str(saved / "data"), "--split", "test",
            "--out", str(tmp_path / "picture.png"), *argv[1:]]
    got, line = fails(visualize.main, [_place(value, saved, tmp_path) for value in argv], capsys)
    assert line.startswith("rs-retrieval visualize: error: ") and _place(names, saved, tmp_path) in line, line
    assert got == code, line
    assert not (tmp_path / "picture.png").exists()


def test_visualize_writes_into_a_missing_folder(saved, tmp_path):
    out = tmp_path / "new" / "folder" / "overlay.png"
    assert visualize.main(["attention", "--model", str(saved / "model"), "--dataset", str(saved / "data"),
                           "--split", "test", "--row", "0", "--size", "32", "--overlay-only", "--out", str(out)]) == 0
    assert out.is_file()


# -- query ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, code, names", [
    (["--model", "MISSING"], 2, "MISSING"),
    (["--model", "PICKLED"], 1, "pytorch_model.bin"),
    (["--images", "MISSING"], 2, "MISSING"),
    (["--images", "FILE"], 2, "file.txt"),
    (["--images", "EMPTY"], 2, "no images"),
    (["--text", ""], 2, "--text"),
    (["--text", TASHKEEL_ONLY], 2, "--text"),
    (["-k", "0"], 2, "-k"),
])
def test_query_names_each_bad_argument_in_one_line(saved, tmp_path, capsys, extra, code, names):
    argv = ["--model", str(saved / "model"), "--images", str(saved / "images"), "--text", "a river", *extra]
    argv = [_place(value, saved, tmp_path).replace("EMPTY", str(saved / "empty")) for value in argv]
    got, line = fails(query.main, argv, capsys)
    assert line.startswith("rs-retrieval query: error: ") and _place(names, saved, tmp_path) in line, line
    assert got == code, line


def test_query_names_an_unreadable_image(saved, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not a png")
    code, line = fails(query.main, ["--model", str(saved / "model"), "--images", str(folder), "--text", "a river"],
                       capsys)
    assert code == 1 and "broken.png" in line, line


# -- train-tokenizer --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag, text, code, names", [
    ("--dataset", None, 2, "missing"),
    ("--text-file", None, 1, "missing"),
    ("--jsonl", '{"en": "a river"}\nnot json\n', 1, ":2:"),
    ("--jsonl", '["a river"]\n', 1, ":1:"),
    ("--text-file", "\n \n" + TASHKEEL_ONLY + "\n", 1, "no text"),
    ("--dataset", "FILE", 2, "file.txt"),
])
def test_train_tokenizer_names_each_bad_corpus_in_one_line(saved, tmp_path, capsys, flag, text, code, names):
    path = tmp_path / "missing"
    if text == "FILE":
        path = saved / "file.txt"
    elif text is not None:
        path = tmp_path / "corpus"
        path.write_text(text, encoding="utf-8")
    got, line = fails(train_tokenizer.main, ["--out", str(tmp_path / "tok"), flag, str(path), "--vocab-size", "60"],
                      capsys)
    assert line.startswith("rs-retrieval train-tokenizer: error: ") and names in line and got == code, line
    assert not (tmp_path / "tok").exists()


def test_train_tokenizer_refuses_a_vocabulary_of_zero(tmp_path, capsys):
    code, line = fails(train_tokenizer.main, ["--out", str(tmp_path / "tok"), "--vocab-size", "0"], capsys)
    assert code == 2 and "--vocab-size" in line


def test_debug_flag_gives_the_traceback(saved, tmp_path):
    with pytest.raises(Exception, match="pytorch_model.bin"):
        evaluate.main(["--model", str(saved / "pickled"), "--dataset", str(saved / "data"), "--debug"])


def test_help_still_exits_zero():
    with pytest.raises(SystemExit) as raised:
        train.main(["--help"])
    assert raised.value.code == 0



# -- demo -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, names", [
    (["--out", "FILE"], "is a file"),
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_demo_refuses_bad_arguments_before_doing_anything(saved, capsys, extra, names):
    from commands import demo

    extra = [str(saved / "file.txt") if value == "FILE" else value for value in extra]
    code, line = fails(demo.main, extra, capsys)
    assert code == 2 and line.startswith("rs-retrieval demo: error: ") and names in line, line
