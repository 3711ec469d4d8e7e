"""A saved checkpoint carries its own code: it loads through the Auto classes where rs_retrieval is not importable."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import torch
from PIL import Image

SHIPPED_FILES = {
    "configuration_rs_dual_encoder.py",
    "modeling_rs_dual_encoder.py",
    "contrastive_loss_rs_dual_encoder.py",
    "processing_rs_dual_encoder.py",
    "image_processing_rs_dual_encoder.py",
    "image_conversion.py",
    "text_normalization.py",
}

LOADER = textwrap.dedent(
    """
    import importlib.abc, importlib.util, json, sys

    class BlockRsRetrieval(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "rs_retrieval" or name.startswith("rs_retrieval."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")

    sys.meta_path.insert(0, BlockRsRetrieval())
    try:
        import rs_retrieval  # noqa: F401
        raise SystemExit("rs_retrieval is importable: the test would prove nothing")
    except ModuleNotFoundError:
        pass

    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModel, AutoProcessor

    checkpoint, image_path, out = sys.argv[1:4]
    model = AutoModel.from_pretrained(checkpoint, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(checkpoint, trust_remote_code=True)
    batch = processor(images=[Image.open(image_path)], text=["three airplanes", "ثلاث طائرات"])
    with torch.no_grad():
        image = model.encode_image(batch["pixel_values"])
        text = model.encode_text(batch["input_ids"], batch["attention_mask"])
    json.dump({"module": type(model).__module__, "image": image.tolist(), "text": text.tolist(),
               "input_ids": batch["input_ids"].tolist()}, open(out, "w"))
    """
)


def test_checkpoint_loads_with_trust_remote_code_in_a_process_without_the_package(tiny_model, tiny_processor, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    tiny_model.save_pretrained(checkpoint)
    tiny_processor.save_pretrained(checkpoint)
    assert SHIPPED_FILES <= {p.name for p in checkpoint.glob("*.py")}
    assert json.loads((checkpoint / "config.json").read_text())["auto_map"]["AutoModel"] == (
        "modeling_rs_dual_encoder.DualEncoderModel"
    )

    image_path = tmp_path / "tile.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(image_path)
    script, result = tmp_path / "load.py", tmp_path / "result.json"
    script.write_text(LOADER)
    completed = subprocess.run([sys.executable, str(script), str(checkpoint), str(image_path), str(result)],
                               cwd=tmp_path, capture_output=True, text=True, timeout=300,
                               env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"),
                                    "PATH": "/usr/bin:/bin"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    loaded = json.loads(result.read_text())
    assert loaded["module"].startswith("transformers_modules.")

    batch = tiny_processor(images=[Image.open(image_path)], text=["three airplanes", "ثلاث طائرات"])
    with torch.no_grad():
        image = tiny_model.encode_image(batch["pixel_values"])
        text = tiny_model.encode_text(batch["input_ids"], batch["attention_mask"])
    assert loaded["input_ids"] == batch["input_ids"].tolist()
    assert (torch.tensor(loaded["image"]) - image).abs().max() <= 1e-5
    assert (torch.tensor(loaded["text"]) - text).abs().max() <= 1e-5


def test_shipped_code_never_unpickles_or_reaches_the_network():
    from pathlib import Path

    import rs_retrieval.modeling as modeling
    import rs_retrieval.processing as processing

    for folder in (Path(modeling.__file__).parent, Path(processing.__file__).parent):
        for source in folder.glob("*.py"):
            text = source.read_text()
            assert "import pickle" not in text and "torch.load(" not in text, source
            for forbidden in ("hf_hub_download", "snapshot_download", "requests.", "urllib", "httpx"):
                assert forbidden not in text, f"{source.name} mentions {forbidden}"


def test_a_saved_checkpoint_holds_exactly_its_weights_config_code_and_processor(tiny_model, tiny_processor, tmp_path):
    """What `save_pretrained` of the model and the processor writes: nothing more (no pickles), nothing less."""
    tiny_model.save_pretrained(tmp_path)
    tiny_processor.save_pretrained(tmp_path)
    expected = SHIPPED_FILES | {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
                                "tokenizer_config.json"}
    assert {p.name for p in tmp_path.iterdir()} == expected
