"""The local Hub serves the real `huggingface_hub`, `datasets` and `transformers` clients like huggingface.co does.

Client code runs in subprocesses (see `hub_support.run_client`); each prints one JSON line of what
it observed, and the assertions read that.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hub_support import HUB_TOKEN, local_hub, run_client  # noqa: F401 (local_hub is a fixture, used by name)

from rs_retrieval.testing.local_hub import LocalHub, client_environment
from rs_retrieval.testing.local_hub.storage import Storage
from rs_retrieval.testing.local_hub.upload_modes import DEFAULT_GITATTRIBUTES, upload_mode

LFS_BYTES = bytes(range(256)) * 400  # 100 KiB with NUL bytes: binary, so uploaded through LFS
DEFINE_BLOB = "BLOB = bytes(range(256)) * 400"  # LFS_BYTES inside client code (too long for a command line)


def observed(result: subprocess.CompletedProcess[str]) -> dict:
    """The JSON object the client printed last; fails with the client's stderr when it crashed."""
    assert result.returncode == 0, f"client failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_model_folder(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("plain text, stored as a regular git file\n", encoding="utf-8")
    (folder / "sub" / "weights.safetensors").write_bytes(LFS_BYTES)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\ntags: [remote-sensing]\n---\n# Tiny\n",
                                      encoding="utf-8")
    return folder


# ----- repos ----------------------------------------------------------------------------------------------------


def test_create_repo_answers_409_for_an_existing_repo_unless_exist_ok(local_hub, tmp_path):
    result = run_client("""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        url = api.create_repo("alice/tiny")
        try:
            api.create_repo("alice/tiny")
            status = None
        except HfHubHTTPError as error:
            status = error.response.status_code
        again = api.create_repo("alice/tiny", exist_ok=True)
        named_by_user = api.create_repo("no-namespace")
        dataset = api.create_repo("alice/tiny", repo_type="dataset")
        print(json.dumps({"url": url, "repo_id": url.repo_id, "status": status, "again": again,
                          "user_repo": named_by_user.repo_id, "dataset": dataset,
                          "exists": [api.repo_exists("alice/tiny"), api.repo_exists("alice/other"),
                                     api.repo_exists("alice/tiny", repo_type="dataset")]}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["url"] == seen["again"] == f"{local_hub.url}/alice/tiny"
    assert seen["repo_id"] == "alice/tiny"
    assert seen["status"] == 409
    assert seen["user_repo"] == f"{local_hub.user}/no-namespace"
    assert seen["dataset"] == f"{local_hub.url}/datasets/alice/tiny", "model and dataset repos are separate"
    assert seen["exists"] == [True, False, True]


def test_upload_folder_round_trips_text_and_lfs_files_byte_for_byte(local_hub, tmp_path):
    folder = write_model_folder(tmp_path / "upload")
    result = run_client(f"""
        {DEFINE_BLOB}
        import json, os
        from pathlib import Path
        from huggingface_hub import HfApi, hf_hub_download, snapshot_download
        api = HfApi()
        api.create_repo("alice/model")
        commit = api.upload_folder(repo_id="alice/model", folder_path={str(folder)!r}, commit_message="add files")
        text = Path(hf_hub_download("alice/model", "notes.txt")).read_bytes()
        weights = Path(hf_hub_download("alice/model", "sub/weights.safetensors", revision=commit.oid)).read_bytes()
        snapshot = Path(snapshot_download("alice/model"))
        files = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file())
        print(json.dumps({{"oid": commit.oid, "text": text.decode(), "weights_equal": weights == BLOB,
                           "snapshot": files,
                           "snapshot_weights_equal": (snapshot / "sub/weights.safetensors").read_bytes() == BLOB}}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert len(seen["oid"]) == 40 and all(c in "0123456789abcdef" for c in seen["oid"])
    assert seen["text"] == (folder / "notes.txt").read_text(encoding="utf-8")
    assert seen["weights_equal"] and seen["snapshot_weights_equal"]
    assert seen["snapshot"] == [".gitattributes", "README.md", "notes.txt", "sub/weights.safetensors"]
    # The binary went through the LFS protocol (batch + signed PUT), the text inside the commit.
    paths = [path for _, path, _ in local_hub.requests]
    assert "/alice/model.git/info/lfs/objects/batch" in paths
    assert f"/__lfs__/upload/{hashlib.sha256(LFS_BYTES).hexdigest()}" in paths


def test_tree_listing_and_repo_info_describe_files_folders_and_card(local_hub, tmp_path):
    folder = write_model_folder(tmp_path / "upload")
    local_hub.api.contents.tree_page_size = 2  # force the client through Link-header pagination
    result = run_client(f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/model")
        api.upload_folder(repo_id="alice/model", folder_path={str(folder)!r})
        tree = [(f.path, type(f).__name__, getattr(f, "lfs", None) is not None)
                for f in api.list_repo_tree("alice/model", recursive=True)]
        top = [f.path for f in api.list_repo_tree("alice/model")]
        sub = [(f.path, f.lfs.sha256) for f in api.list_repo_tree("alice/model", "sub")]
        info = api.model_info("alice/model")
        print(json.dumps({{"tree": tree, "top": top, "sub": sub, "siblings": [s.rfilename for s in info.siblings],
                           "sha": info.sha, "head": api.list_repo_commits("alice/model")[0].commit_id,
                           "license": info.card_data.license, "tags": info.tags,
                           "exists": [api.file_exists("alice/model", "notes.txt"),
                                      api.file_exists("alice/model", "x")]}}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert sorted(map(tuple, seen["tree"])) == [(".gitattributes", "RepoFile", False), ("README.md", "RepoFile", False),
                                                ("notes.txt", "RepoFile", False), ("sub", "RepoFolder", False),
                                                ("sub/weights.safetensors", "RepoFile", True)]
    assert sorted(seen["top"]) == [".gitattributes", "README.md", "notes.txt", "sub"]
    assert seen["sub"] == [["sub/weights.safetensors", hashlib.sha256(LFS_BYTES).hexdigest()]]
    assert seen["siblings"] == [".gitattributes", "README.md", "notes.txt", "sub/weights.safetensors"]
    assert seen["sha"] == seen["head"]
    assert seen["license"] == "apache-2.0" and seen["tags"] == ["remote-sensing"]
    assert seen["exists"] == [True, False]
    tree_pages = [path for method, path, _ in local_hub.requests if path == "/api/models/alice/model/tree/main"]
    assert len(tree_pages) >= 4, "two paginated listings of 4 and 5 entries take at least 2 pages each"


def test_missing_repo_revision_and_file_raise_the_clients_typed_errors(local_hub, tmp_path):
    result = run_client("""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
        api = HfApi()
        api.create_repo("alice/model")
        raised = {}
        for name, call in {
            "repo": lambda: api.model_info("alice/nothing-here"),
            "dataset_repo": lambda: hf_hub_download("alice/model", "README.md", repo_type="dataset"),
            "revision": lambda: api.model_info("alice/model", revision="no-such-branch"),
            "download_revision": lambda: hf_hub_download("alice/model", ".gitattributes", revision="no-such-branch"),
            "file": lambda: hf_hub_download("alice/model", "missing.txt"),
        }.items():
            try:
                call()
                raised[name] = None
            except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as error:
                raised[name] = [type(error).__name__, error.response.status_code]
        try:
            api.upload_file(path_or_fileobj=b"---\\nlicense: [unclosed\\n---\\n", path_in_repo="README.md",
                            repo_id="alice/model")
        except ValueError as error:
            raised["invalid_card"] = str(error).splitlines()[0]
        print(json.dumps(raised))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen == {
        "repo": ["RepositoryNotFoundError", 404],
        "dataset_repo": ["RepositoryNotFoundError", 404],
        "revision": ["RevisionNotFoundError", 404],
        "download_revision": ["RevisionNotFoundError", 404],
        "file": ["RemoteEntryNotFoundError", 404],
        "invalid_card": "Invalid metadata in README.md.",
    }


def test_a_wrong_token_is_refused_with_401_and_never_echoed(local_hub, tmp_path):
    wrong = "hf_wrong_token_1234567890"
    result = run_client(f"""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        outcomes = {{}}
        for name, call in {{
            "create": lambda: HfApi(token={wrong!r}).create_repo("alice/secret"),
            "anonymous_create": lambda: HfApi(token=False).create_repo("alice/secret"),
            "upload": lambda: HfApi(token={wrong!r}).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt",
                                                                   repo_id="alice/open"),
        }}.items():
            try:
                call()
                outcomes[name] = None
            except HfHubHTTPError as error:
                outcomes[name] = [type(error).__name__, error.response.status_code, str(error)]
        HfApi().create_repo("alice/private", private=True)
        try:
            HfApi(token=False).model_info("alice/private")
            outcomes["private_read"] = None
        except HfHubHTTPError as error:
            outcomes["private_read"] = [type(error).__name__, error.response.status_code, str(error)]
        outcomes["owner_read"] = HfApi().model_info("alice/private").private
        print(json.dumps(outcomes))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["create"][:2] == ["HfHubHTTPError", 401] and "Invalid credentials" in seen["create"][2]
    assert seen["anonymous_create"][:2] == ["HfHubHTTPError", 401]
    assert seen["upload"][:2] == ["HfHubHTTPError", 401]
    assert seen["private_read"][:2] == ["RepositoryNotFoundError", 401]
    assert seen["owner_read"] is True
    everything = result.stdout + result.stderr
    assert wrong not in everything and HUB_TOKEN not in everything


def test_pushes_to_a_branch_leave_main_untouched(local_hub, tmp_path):
    result = run_client("""
        import json
        from pathlib import Path
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        api.create_repo("alice/model")
        first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="version.txt", repo_id="alice/model")
        api.create_branch("alice/model", branch="experiment")
        api.create_branch("alice/model", branch="experiment", exist_ok=True)
        api.upload_file(path_or_fileobj=b"v2", path_in_repo="version.txt", repo_id="alice/model", revision="experiment")
        try:
            api.upload_file(path_or_fileobj=b"v3", path_in_repo="version.txt", repo_id="alice/model", create_pr=True)
            pull_request = None
        except HfHubHTTPError as error:
            pull_request = error.response.status_code
        print(json.dumps({
            "pull_request": pull_request,
            "main": Path(hf_hub_download("alice/model", "version.txt")).read_text(),
            "experiment": Path(hf_hub_download("alice/model", "version.txt", revision="experiment")).read_text(),
            "by_commit": Path(hf_hub_download("alice/model", "version.txt", revision=first.oid[:12])).read_text(),
            "history": [c.title for c in api.list_repo_commits("alice/model", revision="experiment")],
        }))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert (seen["main"], seen["experiment"], seen["by_commit"]) == ("v1", "v2", "v1")
    assert seen["pull_request"] == 400, "no pull requests: a create_pr commit is refused, not made on main"
    assert seen["history"] == ["Upload version.txt with huggingface_hub"] * 2 + ["initial commit"]


def test_an_arabic_file_name_round_trips_through_the_hub_clients(local_hub, tmp_path):
    result = run_client("""
        import json
        from pathlib import Path
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        api.create_repo("alice/arabic")
        api.upload_file(path_or_fileobj="مطار\\n".encode(), path_in_repo="صور/خريطة المطار.txt", repo_id="alice/arabic")
        path = hf_hub_download("alice/arabic", "صور/خريطة المطار.txt")
        print(json.dumps({"files": api.list_repo_files("alice/arabic"),
                          "text": Path(path).read_text(encoding="utf-8")}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen == {"files": [".gitattributes", "صور/خريطة المطار.txt"], "text": "مطار\n"}


def test_hf_file_system_lists_and_reads_byte_ranges(local_hub, tmp_path):
    result = run_client(f"""
        {DEFINE_BLOB}
        import json
        from huggingface_hub import HfApi, HfFileSystem
        HfApi().create_repo("alice/model")
        HfApi().upload_file(path_or_fileobj=BLOB, path_in_repo="sub/blob.bin", repo_id="alice/model")
        fs = HfFileSystem()
        with fs.open("alice/model/sub/blob.bin", "rb", block_size=1000) as handle:
            handle.seek(300)
            middle = handle.read(20)
        print(json.dumps({{"ls": fs.ls("alice/model/sub", detail=False), "middle": list(middle),
                           "size": fs.info("alice/model/sub/blob.bin")["size"],
                           "whole": fs.cat_file("alice/model/sub/blob.bin") == BLOB}}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["ls"] == ["alice/model/sub/blob.bin"]
    assert seen["middle"] == list(LFS_BYTES[300:320]) and seen["size"] == len(LFS_BYTES) and seen["whole"]


def test_range_requests_follow_http_semantics(local_hub, tmp_path):
    local_hub.storage.create_repo("model", "alice/model", private=False, author="test")
    def get(path: str, **headers: str) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(local_hub.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    full = DEFAULT_GITATTRIBUTES.encode()
    status, headers, body = get("/alice/model/resolve/main/.gitattributes", Range="bytes=5-9")
    assert (status, body, headers["Content-Range"]) == (206, full[5:10], f"bytes 5-9/{len(full)}")
    assert get("/alice/model/resolve/main/.gitattributes", Range="bytes=-4")[2] == full[-4:]
    status, headers, _ = get("/alice/model/resolve/main/.gitattributes", Range=f"bytes={len(full)}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(full)}"
    status, headers, _ = get("/alice/model/resolve/main/nope.txt")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound" and len(headers["X-Repo-Commit"]) == 40


def test_upload_mode_sends_large_binary_and_tracked_files_to_lfs():
    text = b"just some words\n"
    assert upload_mode("notes.txt", len(text), text, DEFAULT_GITATTRIBUTES) == "regular"
    assert upload_mode("config.json", 20, b'{"a": 1}', DEFAULT_GITATTRIBUTES) == "regular"
    assert upload_mode("data.csv", 11 * 1024 * 1024, text, DEFAULT_GITATTRIBUTES) == "lfs"
    assert upload_mode("blob", 3, b"\x00\x01\x02", DEFAULT_GITATTRIBUTES) == "lfs"
    assert upload_mode("model.safetensors", len(text), text, DEFAULT_GITATTRIBUTES) == "lfs"
    assert upload_mode("arabic.txt", 200, "نص عربي".encode() * 20, DEFAULT_GITATTRIBUTES) == "regular"
    assert upload_mode("empty.bin", 0, b"", DEFAULT_GITATTRIBUTES) == "regular"


# ----- failures -------------------------------------------------------------------------------------------------


def test_a_commit_answered_500_raises_and_a_retry_succeeds(local_hub, tmp_path):
    local_hub.faults.add(method="POST", path_pattern=r"/commit/", action="500", times=1)
    result = run_client(f"""
        {DEFINE_BLOB}
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError
        api = HfApi()
        api.create_repo("alice/model")
        head = api.model_info("alice/model").sha
        try:
            api.upload_file(path_or_fileobj=BLOB, path_in_repo="w.bin", repo_id="alice/model")
            first = None
        except HfHubHTTPError as error:
            first = [error.response.status_code, "Injected fault" in str(error)]
        unchanged = api.model_info("alice/model").sha == head
        retry = api.upload_file(path_or_fileobj=BLOB, path_in_repo="w.bin", repo_id="alice/model")
        print(json.dumps({{"first": first, "unchanged": unchanged, "retry": retry.oid,
                           "downloaded": open(hf_hub_download("alice/model", "w.bin"), "rb").read() == BLOB}}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["first"] == [500, True]
    assert seen["unchanged"], "a failed commit must not move the branch"
    assert len(seen["retry"]) == 40 and seen["downloaded"]


def test_a_dropped_connection_raises_a_connection_error(local_hub, tmp_path):
    fault = local_hub.faults.add(method="POST", path_pattern=r"/commit/", action="drop", times=1)
    result = run_client("""
        import json
        import httpx2
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/model")
        try:
            api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id="alice/model")
            first = None
        except httpx2.TransportError as error:
            first = type(error).__name__
        retry = api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id="alice/model")
        print(json.dumps({"first": first, "files": api.list_repo_files("alice/model")}))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["first"] == "RemoteProtocolError"
    assert seen["files"] == [".gitattributes", "hello.txt"]
    assert fault.hits == 1 and ("POST", "/api/models/alice/model/commit/main", "dropped") in local_hub.requests


# ----- persistence and the command line ---------------------------------------------------------------------


def test_repos_persist_across_a_restart_on_the_same_data_dir(tmp_path):
    data = tmp_path / "hub_data"
    with LocalHub(data, token=HUB_TOKEN) as first:
        pushed = observed(run_client(f"""
            {DEFINE_BLOB}
            import json
            from huggingface_hub import HfApi
            api = HfApi()
            api.create_repo("alice/kept", repo_type="dataset", private=True)
            commit = api.upload_file(path_or_fileobj=BLOB, path_in_repo="blob.bin", repo_id="alice/kept",
                                     repo_type="dataset")
            print(json.dumps({{"oid": commit.oid}}))
        """, first, tmp_path))
    with LocalHub(data, token=HUB_TOKEN) as second:
        again = observed(run_client("""
            import json
            from huggingface_hub import HfApi, hf_hub_download
            info = HfApi().dataset_info("alice/kept")
            path = hf_hub_download("alice/kept", "blob.bin", repo_type="dataset", force_download=True)
            print(json.dumps({"sha": info.sha, "private": info.private, "bytes": open(path, "rb").read().hex()}))
        """, second, tmp_path))
    assert again == {"sha": pushed["oid"], "private": True, "bytes": LFS_BYTES.hex()}


def test_a_data_folder_written_when_tags_were_served_still_loads(tmp_path):
    Storage(tmp_path).create_repo("model", "alice/old", private=False, author="test")
    repo_file = tmp_path / "repos" / "models" / "alice" / "old.json"
    written = json.loads(repo_file.read_text(encoding="utf-8"))
    repo_file.write_text(json.dumps({**written, "tags": {"v1": written["branches"]["main"]}}), encoding="utf-8")
    assert Storage(tmp_path).get_repo("model", "alice/old").branches == written["branches"]


def test_cli_prints_its_url_and_serves_until_terminated_never_printing_a_supplied_token(tmp_path):
    command = [sys.executable, "-m", "rs_retrieval.hub_scripts.local_hub", "--port", "0", "--data", str(tmp_path / "d")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RS_RETRIEVAL_HUB_TOKEN": HUB_TOKEN}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        banner = [process.stdout.readline()]  # type: ignore[union-attr]
        while banner[-1] and not banner[-1].startswith("Press Ctrl-C"):
            banner.append(process.stdout.readline())  # type: ignore[union-attr]
        url = banner[0].split(" at ")[-1].strip()
        assert url.startswith("http://127.0.0.1:"), banner
        with urllib.request.urlopen(url + "/") as response:
            assert json.loads(response.read())["endpoint"] == url
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "/api/models/alice/none")
        assert missing.value.code == 404 and missing.value.headers["X-Error-Code"] == "RepoNotFound"
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "Local Hub stopped." in rest
    assert f"  export HF_ENDPOINT='{url}'\n" in banner and "  export HF_HUB_DISABLE_XET='1'\n" in banner
    assert '  export HF_TOKEN="$RS_RETRIEVAL_HUB_TOKEN"\n' in banner
    assert HUB_TOKEN not in "".join(banner) + rest


def test_client_environment_points_clients_at_the_hub_without_xet(tmp_path):
    env = client_environment("http://127.0.0.1:1234/", token="hf_x", home=tmp_path)
    assert env["HF_ENDPOINT"] == "http://127.0.0.1:1234" and env["HF_TOKEN"] == "hf_x"
    assert env["HF_HOME"] == str(tmp_path) and env["HF_HUB_DISABLE_XET"] == "1"
    assert env["HF_HUB_OFFLINE"] == env["HF_DATASETS_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "0"
    assert client_environment("http://h:1")["HF_TOKEN"] == ""


# ----- datasets and transformers ----------------------------------------------------------------------------


def test_datasets_push_to_hub_then_load_dataset_gives_the_same_rows(local_hub, tmp_path):
    result = run_client("""
        import json
        from datasets import Dataset, DatasetDict, Image, load_dataset
        from PIL import Image as PILImage
        rows = DatasetDict({"train": Dataset.from_dict({"caption": ["a river", "نهر", "a farm"], "label": [0, 1, 2]}),
                            "test": Dataset.from_dict({"caption": ["a beach"], "label": [3]})})
        rows.push_to_hub("alice/captions")
        pictures = [PILImage.new("RGB", (4, 3), (40 * i, 10, 200)) for i in range(3)]
        images = DatasetDict({"train": Dataset.from_dict({"image": pictures, "label": [0, 1, 2]})
                              .cast_column("image", Image())})
        images.push_to_hub("alice/pictures")
        rows_back = load_dataset("alice/captions")
        images_back = load_dataset("alice/pictures")
        print(json.dumps({
            "train": rows_back["train"].to_dict(), "test": rows_back["test"].to_dict(),
            "pixels": [[list(p) for p in im.convert("RGB").get_flattened_data()]
                       for im in images_back["train"]["image"]],
            "expected_pixels": [[list(p) for p in im.get_flattened_data()] for im in pictures],
            "labels": list(images_back["train"]["label"]), "features": str(images_back["train"].features["image"]),
        }))
    """, local_hub, tmp_path)
    seen = observed(result)
    assert seen["train"] == {"caption": ["a river", "نهر", "a farm"], "label": [0, 1, 2]}
    assert seen["test"] == {"caption": ["a beach"], "label": [3]}
    assert seen["pixels"] == seen["expected_pixels"] and seen["labels"] == [0, 1, 2]
    assert seen["features"].startswith("Image(")


def test_transformers_push_to_hub_and_trainer_pushes_load_in_a_fresh_process(local_hub, tmp_path):
    pushed = run_client("""
        import json, torch
        from transformers import BertConfig, BertForSequenceClassification, BertModel, Trainer, TrainingArguments
        config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=20, num_labels=2)
        torch.manual_seed(0)
        model = BertModel(config)
        model.push_to_hub("alice/tiny-bert")

        class Rows(torch.utils.data.Dataset):
            def __len__(self):
                return 8
            def __getitem__(self, index):
                generator = torch.Generator().manual_seed(index)
                return {"input_ids": torch.randint(0, 50, (6,), generator=generator), "labels": torch.tensor(index % 2)}

        args = TrainingArguments(output_dir="trainer_out", max_steps=2, per_device_train_batch_size=4, save_steps=1,
                                 push_to_hub=True, hub_model_id="alice/tiny-classifier", hub_strategy="every_save",
                                 report_to=[], use_cpu=True)
        trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=Rows())
        trainer.train()
        trainer.push_to_hub()
        first = {k: v.tolist() for k, v in model.state_dict().items() if k.endswith("word_embeddings.weight")}
        final = trainer.model.classifier.weight.tolist()
        print(json.dumps({"embeddings": first, "classifier": final}))
    """, local_hub, tmp_path)
    trained = observed(pushed)
    loaded = run_client("""
        import json
        from huggingface_hub import HfApi, ModelCard
        from transformers import AutoModel, AutoModelForSequenceClassification
        bert = AutoModel.from_pretrained("alice/tiny-bert")
        classifier = AutoModelForSequenceClassification.from_pretrained("alice/tiny-classifier")
        print(json.dumps({
            "bert": type(bert).__name__, "classifier_type": type(classifier).__name__,
            "embeddings": bert.embeddings.word_embeddings.weight.tolist(),
            "classifier": classifier.classifier.weight.tolist(),
            "files": HfApi().list_repo_files("alice/tiny-classifier"),
            "card_tags": ModelCard.load("alice/tiny-classifier").data.tags,
        }))
    """, local_hub, tmp_path)
    seen = observed(loaded)
    assert seen["bert"] == "BertModel" and seen["classifier_type"] == "BertForSequenceClassification"
    assert seen["embeddings"] == trained["embeddings"]["embeddings.word_embeddings.weight"]
    assert seen["classifier"] == trained["classifier"]
    assert {"config.json", "model.safetensors", "README.md"} <= set(seen["files"])
    assert "generated_from_trainer" in seen["card_tags"]
