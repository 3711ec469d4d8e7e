"""`rs-retrieval` console script: one sub-command per script in `hub_scripts/`.

Each script module exposes `main(argv: list[str] | None = None) -> int` and stays runnable on its own
(`python hub_scripts/train.py ...`); this dispatcher only imports the one that is asked for, so a
sub-command's heavy dependencies are never loaded for another.
"""

from __future__ import annotations

import importlib
import sys

from .extras import missing_extra

COMMANDS: dict[str, tuple[str, str]] = {
    "build-dataset": ("rs_retrieval.hub_scripts.build_dataset", "Karpathy JSON + images -> bilingual DatasetDict"),
    "make-synthetic": ("rs_retrieval.hub_scripts.make_synthetic", "write the embedded synthetic bilingual dataset"),
    "train-tokenizer": ("rs_retrieval.hub_scripts.train_tokenizer",
                        "train the small English+Arabic SentencePiece tokenizer"),
    "train": ("rs_retrieval.hub_scripts.train", "train a dual encoder with the Trainer (accelerate-ready)"),
    "evaluate": ("rs_retrieval.hub_scripts.evaluate", "recall@K tables for a checkpoint on a dataset split"),
    "visualize": ("rs_retrieval.hub_scripts.visualize", "attention maps, t-SNE of the joint space, retrieval grids"),
    "index": ("rs_retrieval.hub_scripts.index", "embed a gallery of images into a searchable FAISS index"),
    "search": ("rs_retrieval.hub_scripts.search", "query an index with English/Arabic text or an image"),
    "classify": ("rs_retrieval.hub_scripts.classify", "zero-shot scene labels from English/Arabic prompts"),
    "query": ("rs_retrieval.hub_scripts.query", "rank a folder of images for English/Arabic queries (no index)"),
    "push-model": ("rs_retrieval.hub_scripts.push_model", "push a checkpoint with its code and model card to the Hub"),
    "push-dataset": ("rs_retrieval.hub_scripts.push_dataset", "push a built DatasetDict with its card to the Hub"),
    "local-hub": ("rs_retrieval.hub_scripts.local_hub", "serve a local Hugging Face Hub (offline tests)"),
    "demo": ("rs_retrieval.hub_scripts.demo", "the main job on the embedded synthetic dataset"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: rs-retrieval COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rs-retrieval: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except ModuleNotFoundError as error:
        extra = missing_extra(error, f"rs-retrieval {name}")
        if extra is None:
            raise
        print(f"rs-retrieval {name}: error: {extra}", file=sys.stderr)
        return 1
    return int(module.main(rest) or 0)  # each script's main is wrapped by rs_retrieval.errors.command


if __name__ == "__main__":
    sys.exit(main())
