"""A local Hugging Face Hub: the part of the Hub HTTP API that this package's publishing and loading use.

Model and dataset repos, branches, commits, LFS uploads, tree listings, file downloads and typed errors, served from a
data folder on disk, for tests (a push, a reload, a push cut off by `faults`) and for trying publishing offline
(`rs-retrieval local-hub`). Clients must run with `client_environment`. Safe to leave running on a shared machine:
writes need a token, web pages are refused (Host and Origin checks), bodies and read times are bounded (`limits`),
and malformed requests get a 4xx with a message.

    from rs_retrieval.testing.local_hub import LocalHub, client_environment

    with LocalHub("hub_data") as hub:  # writes need hub.token, drawn at random
        env = client_environment(hub.url, token=hub.token, home="hf_home")
        subprocess.run([sys.executable, "push.py"], env={**os.environ, **env}, check=True)
"""

from .environment import client_environment
from .faults import Fault, Faults
from .server import LocalHub

__all__ = ["Fault", "Faults", "LocalHub", "client_environment"]
