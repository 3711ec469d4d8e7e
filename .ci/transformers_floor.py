"""The declared transformers floor is real: a checkpoint saved by the package loads and embeds with it.

Run by `make test-floor` (and so by `make test`) with the main venv's python:

    .venv/bin/python .ci/transformers_floor.py .venv-floor/bin/python

1. Here (the main venv, the newest transformers): build a tiny random dual encoder and processor the way the tests do
   (tests/tiny_models.py), save them, and embed one image and two captions (English, Arabic).
2. In the floor venv (transformers, huggingface_hub, tokenizers and safetensors at the floors pyproject.toml declares;
   see .ci/floor-requirements.txt), in an isolated process where rs_retrieval is not importable: load the folder
   with `AutoModel` / `AutoProcessor.from_pretrained(..., trust_remote_code=True)`, so only the code shipped beside the
   checkpoint runs, and embed the same inputs.
3. The token ids must be equal and the embeddings within 1e-5.

It also checks that the floor venv's transformers is the floor pyproject.toml declares, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
CAPTIONS = ["three airplanes parked next to the runway", "ثلاث طائرات متوقفة بجانب المدرج"]


def declared_floor(package: str) -> str:
    """The `>=` floor pyproject.toml declares for a core dependency."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(rf'"{re.escape(package)}>=([0-9][^,"]*)', text)
    if match is None:
        raise SystemExit(f"pyproject.toml declares no floor for {package}")
    return match.group(1)


def same_release(installed: str, floor: str) -> bool:
    pad = lambda v: (tuple(int(p) for p in v.split(".")) + (0, 0, 0))[:3]  # noqa: E731
    return pad(installed) == pad(floor)


def test_image():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(40, 52, 3), dtype=np.uint8), mode="RGB")


def embed(model, processor) -> dict:
    import torch

    batch = processor(images=[test_image()], text=CAPTIONS)
    with torch.no_grad():
        image = model.encode_image(batch["pixel_values"])
        text = model.encode_text(batch["input_ids"], batch["attention_mask"])
    return {"image": image.tolist(), "text": text.tolist(), "input_ids": batch["input_ids"].tolist()}


def save_checkpoint(folder: Path) -> dict:
    """Step 1, in the main venv: a tiny random checkpoint and its embeddings."""
    import torch

    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import IMAGE_SIZE, TINY_CORPUS, tiny_config

    from rs_retrieval import DualEncoderImageProcessor, DualEncoderModel, DualEncoderProcessor
    from rs_retrieval.tokenizer import train_sentencepiece_tokenizer

    tokenizer = train_sentencepiece_tokenizer(TINY_CORPUS * 4, vocab_size=120)
    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(len(tokenizer))).eval()
    processor = DualEncoderProcessor(DualEncoderImageProcessor(size=IMAGE_SIZE), tokenizer, max_length=24)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return embed(model, processor)


def load_with_floor(folder: str, out: str) -> None:
    """Step 2, in the floor venv: the checkpoint's own code only."""
    import importlib.util

    if importlib.util.find_spec("rs_retrieval") is not None:
        raise SystemExit("rs_retrieval is importable in the floor process: the check would prove nothing")
    import transformers
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    result = embed(model, processor)
    result.update(transformers=transformers.__version__, module=type(model).__module__)
    Path(out).write_text(json.dumps(result), encoding="utf-8")


def main(floor_python: str) -> int:
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="rs-floor-") as tmp:
        folder = Path(tmp) / "checkpoint"
        expected = save_checkpoint(folder)
        out = Path(tmp) / "floor.json"
        environment = {**os.environ, "HF_HOME": str(Path(tmp) / "hf_home"), "HF_HUB_OFFLINE": "1",
                       "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": ""}
        # -I: no PYTHONPATH, no user site, no script folder on sys.path; the cwd is the temporary folder.
        command = [os.path.abspath(floor_python), "-I", str(Path(__file__).resolve()), "--load", str(folder),
                   str(out)]
        subprocess.run(command, check=True, cwd=tmp, env=environment)
        got = json.loads(out.read_text(encoding="utf-8"))

    floor = declared_floor("transformers")
    problems = []
    if not same_release(got["transformers"], floor):
        problems.append(f"the floor venv has transformers {got['transformers']}, pyproject.toml declares >={floor}")
    if got["module"].startswith("rs_retrieval"):
        problems.append(f"the model came from {got['module']}, not from the checkpoint's code")
    if got["input_ids"] != expected["input_ids"]:
        problems.append("the token ids differ")
    for key in ("image", "text"):
        difference = float(np.abs(np.asarray(got[key]) - np.asarray(expected[key])).max())
        if not difference <= TOLERANCE:
            problems.append(f"the {key} embeddings differ by {difference:.2e} (> {TOLERANCE})")
    if problems:
        print("transformers floor check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"transformers floor check: a checkpoint saved with transformers {__import__('transformers').__version__} "
          f"loads and embeds identically (within {TOLERANCE}) with transformers {got['transformers']} "
          "through trust_remote_code, rs_retrieval not importable")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--load":
        load_with_floor(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        sys.exit(main(sys.argv[1]))
    else:
        sys.exit(f"usage: {sys.argv[0]} FLOOR_PYTHON")
