"""The `rs-retrieval` console script dispatches to the hub_scripts."""

from __future__ import annotations

import importlib

from rs_retrieval import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    printed = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in printed


def test_every_command_points_at_a_script_with_main():
    for name, (module, _) in cli.COMMANDS.items():
        assert callable(importlib.import_module(module).main), name


def test_unknown_command_is_named(capsys):
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


def test_a_command_runs_with_its_arguments(tmp_path, capsys):
    assert cli.main(["train-tokenizer", "--out", str(tmp_path / "tok"), "--text-file", str(_corpus(tmp_path)),
                     "--vocab-size", "60"]) == 0
    assert (tmp_path / "tok" / "tokenizer.json").exists()
    assert "trained on" in capsys.readouterr().out


def _corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(["two airplanes on the runway", "طائرتان على المدرج", "a river and a bridge"] * 20),
                    encoding="utf-8")
    return path


def test_missing_required_argument_exits_with_usage(capsys):
    assert cli.main(["evaluate"]) == 2
    assert capsys.readouterr().err.startswith("rs-retrieval evaluate: error: the following arguments are required")
