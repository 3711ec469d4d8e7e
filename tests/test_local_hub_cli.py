"""`rs-retrieval local-hub`: the token never travels on a command line, and bad setups end in one line, not a traceback.

Error cases run `main` in this process (they stop before serving); the serving case runs the command in a
subprocess and reads its banner.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.error
import urllib.request

import pytest
from commands import local_hub as cli

from rs_retrieval.testing.local_hub.serving import TOKEN_VARIABLE, configure_hub, export_lines

SECRET = "hf_supplied_secret_0123456789"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rs-retrieval local-hub: error: "), err
    return lines[0]


def test_a_token_given_on_the_command_line_is_refused_and_never_echoed(capsys, tmp_path):
    code, out, err = run_main(capsys, "--token", SECRET, "--data", str(tmp_path / "d"))
    line = assert_one_line_error(err)
    assert code == 2 and "ps" in line and "RS_RETRIEVAL_HUB_TOKEN" in line
    assert SECRET not in out + err


def test_a_data_folder_that_is_a_file_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "data").write_text("not a folder")
    code, _, err = run_main(capsys, "--data", str(tmp_path / "data"))
    assert code == 2 and "is a file" in assert_one_line_error(err)


def test_a_port_in_use_is_one_line_naming_the_port(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_main(capsys, "--port", str(port), "--data", str(tmp_path / "d"))
    line = assert_one_line_error(err)
    assert code == 1 and f"127.0.0.1:{port}" in line


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port"),
    (["--token-file", "{tmp}/missing.txt"], "Cannot read the token file"),
    (["--token-file", "{tmp}/empty.txt"], "is empty"),
    (["--allow-anonymous-writes", "--host", "0.0.0.0"], "other machines"),
    (["--allow-anonymous-writes", "--token-file", "{tmp}/token.txt"], "contradict"),
])
def test_bad_settings_are_usage_errors(capsys, tmp_path, argv, message):
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "token.txt").write_text(SECRET)
    arguments = [value.format(tmp=tmp_path) for value in argv]
    code, out, err = run_main(capsys, *arguments, "--data", str(tmp_path / "d"))
    assert code == 2 and message in assert_one_line_error(err)
    assert SECRET not in out + err


def test_a_corrupt_repo_file_in_the_data_folder_is_one_line_naming_it(capsys, tmp_path):
    broken = tmp_path / "d" / "repos" / "models" / "alice" / "model.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{ half a repo")
    code, _, err = run_main(capsys, "--data", str(tmp_path / "d"))
    assert code == 1 and str(broken) in assert_one_line_error(err)


def test_a_token_file_is_read_and_shown_only_as_a_command_that_reads_it(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    (tmp_path / "token.txt").write_text(SECRET + "\n")
    hub, expression = configure_hub(tmp_path / "d", token_file=tmp_path / "token.txt")
    assert hub.token == SECRET and SECRET not in expression and "token.txt" in expression
    lines = export_lines("http://127.0.0.1:1", expression)
    assert SECRET not in "\n".join(lines) and f"export HF_TOKEN={expression}" in lines


def _post(url: str, token: str | None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url + "/api/repos/create", data=json.dumps({"name": "x"}).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _serving_banner(capsys: pytest.CaptureFixture[str], returned: threading.Event) -> str:
    """What the command printed up to its "Press Ctrl-C" line, or everything if it returned before serving."""
    printed = ""
    while "Press Ctrl-C" not in printed and not returned.is_set():
        printed += capsys.readouterr().out
        returned.wait(0.05)
    return printed


def test_without_a_token_the_cli_draws_one_prints_it_once_and_writes_need_it(capsys, tmp_path, monkeypatch):
    """The command runs here in the main thread (it installs its SIGTERM handler); a helper thread talks to it."""
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    seen: dict[str, object] = {}
    returned = threading.Event()

    def client() -> None:
        banner = _serving_banner(capsys, returned)
        if "Press Ctrl-C" not in banner:
            return  # the command stopped on its own; the assertions below report why
        try:
            url = banner.split(" at ", 1)[1].split()[0]
            token_lines = [line for line in banner.splitlines() if line.startswith("  export HF_TOKEN=")]
            token = token_lines[0].split("=", 1)[1].strip("'")
            statuses = [_post(url, None), _post(url, token)]
            seen.update(banner=banner, token=token, lines=len(token_lines), statuses=statuses)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the command's handler stops it

    helper = threading.Thread(target=client)
    helper.start()
    try:
        code = cli.main(["--data", str(tmp_path / "d")])
    finally:
        returned.set()
        helper.join()
    rest = capsys.readouterr().out
    assert "token" in seen, f"the command did not serve: exit {code}"
    token = str(seen["token"])
    assert code == 0 and seen["lines"] == 1 and len(token) >= 32
    assert str(seen["banner"]).count(token) == 1 and token not in rest
    assert seen["statuses"] == [401, 200]
