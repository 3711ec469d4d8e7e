"""A local Hugging Face Hub: enough of the Hub HTTP API for `huggingface_hub`, `transformers` and `datasets`.

Repos (model, dataset), commits, branches, LFS uploads, file downloads and typed errors, served from
a data folder on disk; for tests and for working offline. Clients must run with `client_environment`.

    from rs_retrieval.local_hub import LocalHub, client_environment

    with LocalHub("hub_data", token="hf_local") as hub:
        env = client_environment(hub.url, token="hf_local", home="hf_home")
        subprocess.run([sys.executable, "push.py"], env={**os.environ, **env}, check=True)
"""

from .environment import client_environment, shell_exports
from .faults import Fault, Faults
from .server import LocalHub

__all__ = ["Fault", "Faults", "LocalHub", "client_environment", "shell_exports"]
