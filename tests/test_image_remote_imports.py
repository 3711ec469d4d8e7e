"""The code shipped beside every checkpoint imports nothing that a minimal environment lacks.

`AutoProcessor.from_pretrained(..., trust_remote_code=True)` runs transformers' own import check on each shipped
file and refuses to load when it names a package that is not installed; the check is run here on every file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from transformers.dynamic_module_utils import get_imports

REPO = Path(__file__).resolve().parents[1]
#: What `pip install transformers torch safetensors pillow sentencepiece` provides (numpy and huggingface_hub come
#: with transformers), besides the standard library.
MINIMAL_ENVIRONMENT = {"transformers", "torch", "safetensors", "PIL", "sentencepiece", "numpy", "huggingface_hub"}
SHIPPED = sorted(path for folder in ("modeling", "processing") for path in (REPO / folder).glob("*.py"))


def test_every_shipped_folder_has_code():
    assert {path.parent.name for path in SHIPPED} == {"modeling", "processing"}
    assert "image_conversion.py" in {path.name for path in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_transformers_import_check_finds_only_the_minimal_environment(path):
    found = set(get_imports(path)) - set(sys.stdlib_module_names) - {"__future__"}
    assert found <= MINIMAL_ENVIRONMENT, f"{path.name} needs {sorted(found - MINIMAL_ENVIRONMENT)}"
