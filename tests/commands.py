"""The commands as a user runs them, through the `rs-retrieval` dispatcher: tests never import a script.

    from commands import search
    assert search.main(["--index", "idx", "--text", "river"]) == 0
"""

from __future__ import annotations

from rs_retrieval import cli


class Command:
    """`rs-retrieval NAME`: `main(argv)` returns the exit code the console script would."""

    def __init__(self, name: str) -> None:
        self.name = name

    def main(self, argv: list[str] | None = None) -> int:
        return cli.main([self.name, *(argv or [])])


build_dataset = Command("build-dataset")
classify = Command("classify")
demo = Command("demo")
evaluate = Command("evaluate")
index = Command("index")
local_hub = Command("local-hub")
make_synthetic = Command("make-synthetic")
push_dataset = Command("push-dataset")
push_model = Command("push-model")
query = Command("query")
search = Command("search")
train = Command("train")
train_tokenizer = Command("train-tokenizer")
visualize = Command("visualize")
