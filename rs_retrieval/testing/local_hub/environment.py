"""The environment a client process needs to talk to a local Hub instead of huggingface.co.

`huggingface_hub`, `transformers` and `datasets` read `HF_ENDPOINT` and the offline flags when they are
first imported, so these variables must be in place before the process imports them: start client
code in a subprocess with `env={**os.environ, **client_environment(url, token)}`, or export them in
the shell (the `rs-retrieval local-hub` command prints the lines).
"""

from __future__ import annotations

import os


def client_environment(url: str, token: str | None = None,
                       home: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Variables pointing Hub clients at `url`: endpoint, token, online mode, no Xet, no telemetry.

    `home` becomes `HF_HOME` (the download cache and datasets cache live below it); without it the user's
    usual cache is shared. With no `token` the token variables are set empty, so a real Hub token in the
    caller's environment is never sent to the local server.
    """
    env = {
        "HF_ENDPOINT": url.rstrip("/"),
        "HF_TOKEN": token or "",
        "HUGGING_FACE_HUB_TOKEN": token or "",
        # Xet needs a CAS service the local Hub does not have; with it off, uploads use the LFS protocol.
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_SYMLINKS_WARNING": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        # A busy machine can be slow to answer a HEAD; the default 10 s would make a download fall back to cache.
        "HF_HUB_ETAG_TIMEOUT": "60",
        "HF_HUB_DOWNLOAD_TIMEOUT": "60",
    }
    if home is not None:
        env["HF_HOME"] = os.fspath(home)
    return env
