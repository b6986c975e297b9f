"""`calendar shift --sandbox URL`: a URL that is no URL is a usage error (exit 2), and a server
that is down or answers something other than a sandbox's replay list is a failure outside the
input (exit 1), each one line naming the URL; never a traceback, never a file written. The
command runs in the test's process (`run_cli`): what is pinned is the command's answer, not the
process (tests/test_cli_fetch_bounded.py runs the console script against a sandbox URL)."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import Done, run_cli
from rigs import threaded_http

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "unlock_calendar.csv"


@pytest.fixture
def calendar_shift(tmp_path, capsys, monkeypatch):
    """`tradeguard calendar shift` on the example calendar against the sandbox at a URL,
    writing `tmp_path/x.csv`, run in this process from `tmp_path`."""
    monkeypatch.chdir(tmp_path)

    def run(tmp: Path, url: str) -> Done:
        out = str(tmp / "x.csv")
        return run_cli(capsys, "calendar", "shift", str(EXAMPLE), "--sandbox", url, "--out", out)

    return run


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback server answering /admin/replay with the body at the front of the list: one
    for the module (each stop waits out the server's half-second poll)."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[0]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with threaded_http(Handler) as running:
        yield f"http://127.0.0.1:{running.server_port}", bodies


@pytest.fixture
def answering(server) -> tuple[str, list[bytes]]:
    """The module's server, its list of bodies emptied for this test."""
    server[1].clear()
    return server


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "http://[::1:8765/", "http://127.0.0.1:99999", "http://127.0.0.1:x",
     "http://x\x01@127.0.0.1:9", "http://a b@127.0.0.1:9", "http://u:p@127.0.0.1:9",
     "http://127.0.0.1:9/\x1b[2J"],
)  # fmt: skip
def test_a_url_that_is_no_url_is_exit_2_naming_it(tmp_path, calendar_shift, url):
    run = calendar_shift(tmp_path, url)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and f"--sandbox {url!r}" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "\x1b" not in run.stderr and "\x01" not in run.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_sandbox_that_is_not_running_is_exit_1(tmp_path, calendar_shift):
    run = calendar_shift(tmp_path, "http://127.0.0.1:9")
    assert run.returncode == 1, run.stderr
    assert "cannot read http://127.0.0.1:9/admin/replay" in run.stderr, run.stderr
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not a sandbox</html>",
        b'{"replays": 5}',
        b'{"replays": [{"symbol": "ETHBTC"}]}',
        b'{"replays": [{"symbol": "ETHBTC", "shift_ms": "12"}]}',
        b'{"replays": [{"symbol": "ETHBTC", "shift_ms": 1e308}]}',
        b'{"replays": [{"symbol": "\\u001b[2J", "shift_ms": 5}]}',
        b'{"replays": [7]}',
        b"\xff\xfe",
        b'{"replays": []' + b" " * 1_100_000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=[
        "html",
        "int",
        "no-shift",
        "str-shift",
        "float-shift",
        "escape",
        "item",
        "binary",
        "big",
        "deep",
    ],
)
def test_an_answer_that_is_no_replay_list_is_exit_1_in_one_line(
    tmp_path, answering, calendar_shift, body
):
    url, bodies = answering
    bodies.append(body)
    run = calendar_shift(tmp_path, url)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert f"{url}/admin/replay did not answer a sandbox's replay list" in run.stderr
    assert "\x1b" not in run.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_good_answer_still_shifts(tmp_path, answering, calendar_shift):
    url, bodies = answering
    bodies.append(json.dumps({"replays": [{"symbol": "ETHBTC", "shift_ms": 86_400_000}]}).encode())
    run = calendar_shift(tmp_path, url)
    assert run.returncode == 0, run.stderr
    assert "moved by 86400000 ms (sandbox" in run.stdout, run.stdout
    assert (tmp_path / "x.csv").exists()
