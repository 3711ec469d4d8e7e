"""A local Hub fixture and a helper that runs real Hub clients against it in a fresh process.

    from hub_support import local_hub, run_client

    def test_something(local_hub, tmp_path):
        result = run_client("from huggingface_hub import HfApi; print(HfApi().create_repo('a/b'))", local_hub, tmp_path)
        assert result.returncode == 0, result.stderr

Client code runs in a subprocess because `huggingface_hub`, `transformers` and `datasets` read
`HF_ENDPOINT` and the offline flags at import time, and this pytest process is offline (conftest).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rs_retrieval.testing.local_hub import LocalHub, client_environment

HUB_TOKEN = "hf_test_token_local"
CLIENT_TIMEOUT_S = 300


@pytest.fixture()
def local_hub(tmp_path: Path) -> Iterator[LocalHub]:
    """A running LocalHub with its data in `tmp_path/hub_data`, writes guarded by `HUB_TOKEN`."""
    with LocalHub(tmp_path / "hub_data", token=HUB_TOKEN) as hub:
        yield hub


def run_client(code: str, hub: LocalHub, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python `code` (dedented) in a subprocess whose Hub clients talk to `hub`.

    The process gets the hub's token as HF_TOKEN, `tmp_path/hf_home` as its cache and `tmp_path` as its
    working directory; `env` overrides any variable (e.g. `HF_TOKEN="hf_wrong"`). Never raises on a
    non-zero exit: check `returncode`, `stdout` and `stderr`.
    """
    environment = {**os.environ, **client_environment(hub.url, token=hub.token, home=tmp_path / "hf_home")}
    environment.setdefault("OMP_NUM_THREADS", "1")
    environment.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment, cwd=tmp_path,
                          check=False, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)
