"""Every command shown in README.md runs here, scaled down, so a README example cannot rot.

The README's ```bash blocks are parsed into commands. Each must match one entry of `RUNS`, which says how to run
it small: its placeholders (CKPT, DATA, ...) become files of a tiny world built in-process, and scaling flags
are appended (argparse keeps the last value of a flag, so `--max_steps 1` after the README's flags wins). The
README's own flags and values are run as written, so a README command that fails on the data the README says
to build fails here. A README command no entry matches, an entry no README command matches, or a flag the
README mentions in a comment that its run does not pass, fails `test_every_readme_command_has_a_run`.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from hub_support import local_hub, run_client  # noqa: F401  (local_hub is a fixture)
from tiny_models import tiny_config
from transformers import BertConfig, BertModel

from rs_retrieval import DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor, cli
from rs_retrieval.data.synthetic import make_synthetic_dataset

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class Command:
    """One README command: which script (module of rs_retrieval.hub_scripts) and its arguments."""

    text: str
    launcher: str  # python | rs-retrieval | torchrun | make
    module: str
    argv: tuple[str, ...]
    comment_flags: tuple[str, ...] = ()


def readme_commands(text: str | None = None) -> list[Command]:
    """The commands of the README's ```bash blocks, continuation lines joined, `[optional]` brackets and `...`
    dropped, flags named in a trailing comment kept apart."""
    text = README.read_text(encoding="utf-8") if text is None else text
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.strip():
                continue
            comment = line.split(" #", 1)[1] if " #" in line else ""
            tokens = [t.strip("[]") for t in shlex.split(line, comments=True) if t.strip("[]") not in ("", "...")]
            commands.append(_command(line.strip(), tokens, tuple(re.findall(r"(?<![\w-])--[a-z][\w-]*", comment))))
    return commands


def _command(text: str, tokens: list[str], comment_flags: tuple[str, ...]) -> Command:
    launcher = tokens[0]
    if launcher == "make":
        return Command(text, "make", tokens[1], (), comment_flags)
    if launcher == "rs-retrieval":
        module = cli.COMMANDS[tokens[1]][0].rsplit(".", 1)[1]
        return Command(text, launcher, module, tuple(tokens[2:]), comment_flags)
    script = next(n for n, t in enumerate(tokens) if t.startswith("hub_scripts/"))
    return Command(text, launcher, Path(tokens[script]).stem, tuple(tokens[script + 1:]), comment_flags)


@dataclass(frozen=True)
class Run:
    """How one README command runs small: the command it matches and what changes."""

    name: str
    launcher: str
    module: str
    signature: str | None = None  # a token only this README command of the module has
    places: dict[str, str] = field(default_factory=dict)  # README placeholder -> path in the tiny world
    extra: tuple[str, ...] = ()  # scaling flags appended after the README's own
    hub: bool = False  # needs the local Hub (runs in a client process)

    def matches(self, command: Command) -> bool:
        return ((command.launcher, command.module) == (self.launcher, self.module)
                and (self.signature is None or self.signature in command.argv))

    def argv(self, command: Command) -> list[str]:
        return [self.places.get(token, token) for token in command.argv] + list(self.extra)


SCENES_EN = ("airport", "farmland", "river", "bridge", "residential", "forest", "beach", "parking lot", "storage tanks",
             "stadium")
SCENES_AR = ("مطار", "أرض زراعية", "نهر", "جسر", "منطقة سكنية", "غابة", "شاطئ", "موقف سيارات", "خزانات تخزين",
             "ملعب رياضي")

#: The model used wherever a README command trains one: tiny towers (`tiny/config`), 32 px, one step.
SMALL_TRAINING = ("--config", "tiny/config", "--image_size", "32", "--max_steps", "1", "--per_device_train_batch_size",
                  "8", "--max_eval_images", "8", "--synthetic_train_per_scene", "1", "--synthetic_image_size", "32",
                  "--report_to", "none", "--disable_tqdm", "true", "--save_strategy", "no",
                  "--load_best_model_at_end", "false")
CHECKPOINT = {"CKPT": "outputs/demo/checkpoint", "DATA": "outputs/demo/dataset",
              "DATASET_DIR": "outputs/demo/dataset", "DIR": "outputs/demo/gallery", "INDEX": "outputs/index_sharded"}

RUNS = [
    Run("index", "rs-retrieval", "index", extra=("--no-progress",)),
    Run("search text", "rs-retrieval", "search", "--text"),
    Run("search image", "rs-retrieval", "search", "--image"),
    Run("classify", "rs-retrieval", "classify", extra=("--no-progress",), places={  # the README elides the labels
        "airport,farmland,river,...": ",".join(SCENES_EN), "مطار,أرض زراعية,نهر,...": ",".join(SCENES_AR)}),
    Run("index under torchrun (one process here)", "torchrun", "index", places=CHECKPOINT, extra=("--no-progress",)),
    Run("train on synthetic", "python", "train", "--num_train_epochs", extra=SMALL_TRAINING),
    Run("train on the built UCM dataset with a pretrained text tower", "python", "train", "--text_model",
        places={"PATH_TO_E5": "towers/e5", "outputs/ucm_bilingual": "ucm"}, extra=SMALL_TRAINING),
    Run("train under torchrun (one process here)", "torchrun", "train", extra=SMALL_TRAINING),
    Run("train from an args file", "python", "train", "args.yaml"),
    Run("evaluate", "python", "evaluate", places=CHECKPOINT),
    Run("build a dataset", "python", "build_dataset", "--annotations", extra=("--no-progress", "--overwrite")),
    Run("merge datasets", "python", "build_dataset", "--merge", extra=("--no-progress", "--overwrite")),
    Run("make the synthetic dataset", "python", "make_synthetic",
        extra=("--image-size", "32", "--train-per-scene", "1", "--val-per-scene", "1", "--test-per-scene", "1")),
    Run("push a dataset", "python", "push_dataset", hub=True),
    Run("push a model", "python", "push_model", places=CHECKPOINT, extra=("--private", "--revision", "dev"), hub=True),
    Run("train and push", "python", "train", "--push_to_hub", extra=SMALL_TRAINING + ("--output_dir", "pushed"),
        hub=True),
    Run("attention relevance", "python", "visualize", "--text", places=CHECKPOINT, extra=("--size", "32")),
    Run("attention rollout", "python", "visualize", "rollout.png", places=CHECKPOINT, extra=("--size", "32")),
    Run("t-SNE", "python", "visualize", "tsne", places=CHECKPOINT, extra=("--max-images", "8")),
    Run("retrieval grid", "python", "visualize", "grid", places=CHECKPOINT, extra=("--tile", "32")),
]

#: README commands not run here, and why.
NOT_RUN = {("make", "demo"): "runs every step below at full size; `make demo` itself is its test",
           ("make", "test"): "is this test suite"}

#: What the args file of `train.py args.yaml` holds (the README shows only the file name).
ARGS_FILE = {"output_dir": "from_file", "dataset": "synthetic", "languages": "en,ar", "config": "tiny/config",
             "image_size": 32, "max_steps": 1, "per_device_train_batch_size": 8, "max_eval_images": 8,
             "synthetic_train_per_scene": 1, "synthetic_image_size": 32, "report_to": "none", "disable_tqdm": True,
             "save_strategy": "no", "load_best_model_at_end": False}


def run_for(command: Command) -> Run:
    matching = [run for run in RUNS if run.matches(command)]
    assert len(matching) == 1, f"README command {command.text!r} matches {len(matching)} runs: {matching}"
    return matching[0]


def test_every_readme_command_has_a_run():
    commands = readme_commands()
    run_commands = [c for c in commands if (c.launcher, c.module) not in NOT_RUN]
    used = [run_for(command) for command in run_commands]
    assert sorted(run.name for run in used) == sorted(run.name for run in RUNS), "a run matches no README command"
    for command, run in zip(run_commands, used):
        missing = [flag for flag in command.comment_flags if flag not in run.argv(command)]
        assert not missing, f"{command.text!r} mentions {missing}, which its run does not pass"


def test_the_parser_reads_continuations_brackets_and_comments():
    text = ("```bash\nrs-retrieval search --index I --text \"a b\" [--json]   # or --grid X\n"
            "python hub_scripts/push_model.py --checkpoint C \\\n    --repo-id o/n\n"
            "torchrun --nproc_per_node 2 hub_scripts/train.py --ddp_backend gloo ...\n```\n")
    search, push, train = readme_commands(text)
    assert (search.module, search.argv, search.comment_flags) == ("search", ("--index", "I", "--text", "a b",
                                                                             "--json"), ("--grid",))
    assert (push.module, push.argv) == ("push_model", ("--checkpoint", "C", "--repo-id", "o/n"))
    assert (train.launcher, train.module, train.argv) == ("torchrun", "train", ("--ddp_backend", "gloo"))


# -- the tiny world the commands run in -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_tokenizer) -> Path:
    """Every path the README names, small: a tiny checkpoint, a 32 px synthetic dataset, a gallery, an index, a
    results file, Karpathy sources with Arabic captions, a built dataset without a validation split, a tiny
    pretrained text tower and the tiny config the training commands use."""
    root = tmp_path_factory.mktemp("readme")
    demo = root / "outputs" / "demo"
    torch.manual_seed(0)
    tiny_config(len(tiny_tokenizer)).save_pretrained(root / "tiny" / "config")
    DualEncoderModel(tiny_config(len(tiny_tokenizer))).save_pretrained(demo / "checkpoint")
    DualEncoderProcessor(DualEncoderImageProcessor(size=30), tiny_tokenizer, max_length=24).save_pretrained(
        demo / "checkpoint")
    data = make_synthetic_dataset(splits={"train": 1, "test": 4}, image_size=32)
    data.save_to_disk(str(demo / "dataset"))
    (demo / "gallery").mkdir()
    for row in data["test"].select(range(6)):
        row["image"].save(demo / "gallery" / row["filename"])
    data["test"][0]["image"].save(root / "tile.png")
    _write_karpathy(root, "dataset_ucm.json", "imgs", data, arabic="captions_ar.jsonl")
    _write_karpathy(root, "ucm.json", "ucm_imgs", data)
    _write_karpathy(root, "rsicd.json", "rsicd_imgs", make_synthetic_dataset(splits={"train": 1, "test": 1},
                                                                             image_size=32, seed=1))
    text_tower = BertModel(BertConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
                                      pad_token_id=1))
    text_tower.save_pretrained(root / "towers" / "e5")
    tiny_tokenizer.save_pretrained(root / "towers" / "e5")
    (root / "args.yaml").write_text(json.dumps(ARGS_FILE), encoding="utf-8")  # JSON is YAML
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert _main("build_dataset")(["--annotations", "dataset_ucm.json", "--images", "imgs", "--arabic",
                                       "captions_ar.jsonl", "--out", "ucm", "--no-progress"]) == 0
        assert _main("index")(["--model", "outputs/demo/checkpoint", "--images", "outputs/demo/gallery", "--out",
                               "outputs/index", "--no-progress"]) == 0
        assert _main("evaluate")(["--model", "outputs/demo/checkpoint", "--dataset", "outputs/demo/dataset",
                                  "--out", "outputs/demo/results.json"]) == 0
    return root


def _write_karpathy(root: Path, annotations: str, images: str, data, arabic: str | None = None) -> None:
    """A Karpathy-style annotation file and image folder from a synthetic DatasetDict (and its Arabic as JSONL)."""
    entries, translations, sentid = [], [], 0
    (root / images).mkdir()
    for split, rows in data.items():
        for row in rows:
            row["image"].save(root / images / row["filename"])
            sentences = []
            for english, arabic_caption in zip(row["captions_en"], row["captions_ar"]):
                sentences.append({"raw": english, "sentid": sentid})
                translations.append({"sentid": sentid, "ar": arabic_caption})
                sentid += 1
            entries.append({"filename": row["filename"], "imgid": len(entries), "split": split,
                            "sentences": sentences, "class": row["filename"].rsplit("_", 1)[0]})
    (root / annotations).write_text(json.dumps({"images": entries}), encoding="utf-8")
    if arabic:
        (root / arabic).write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in translations),
                                   encoding="utf-8")


def _main(module: str):
    import importlib

    return importlib.import_module(f"rs_retrieval.hub_scripts.{module}").main


LOCAL = [c for c in readme_commands() if (c.launcher, c.module) not in NOT_RUN and not run_for(c).hub]
PUBLISHING = [c for c in readme_commands() if (c.launcher, c.module) not in NOT_RUN and run_for(c).hub]


@pytest.mark.parametrize("command", LOCAL, ids=[run_for(c).name for c in LOCAL])
def test_readme_command_runs(world, monkeypatch, capsys, command):
    monkeypatch.chdir(world)
    argv = run_for(command).argv(command)
    if command.launcher == "torchrun":
        _one_process_group(monkeypatch)
    try:
        code = _main(command.module)(argv)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert code == 0, (command.text, argv, capsys.readouterr().err[-2000:])


def _one_process_group(monkeypatch) -> None:
    """The environment `torchrun --nproc_per_node 1` gives its process (a free local port for the rendezvous)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)


def test_readme_publishing_commands_run_against_the_local_hub(world, local_hub, tmp_path):  # noqa: F811
    runs = [(command.module, run_for(command).argv(command)) for command in PUBLISHING]
    result = run_client(f"""
        import importlib, os, sys
        os.chdir({str(world)!r})
        for module, argv in {runs!r}:
            code = importlib.import_module("rs_retrieval.hub_scripts." + module).main(argv)
            assert code == 0, (module, argv, code)
        """, local_hub, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
