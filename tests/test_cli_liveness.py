"""`tradeguard status` shows the stored heartbeat and the API's health; [health] is validated."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from live_support import sandbox_config, write_vault
from node_support import write_paper_toml, write_slice
from test_api_support import build_app
from tradeguard.api.server import ApiServer
from tradeguard.cli import main
from tradeguard.cli.liveness import heartbeat_view
from tradeguard.config import Config
from tradeguard.node import TradingNode
from tradeguard.node.stats import HEARTBEAT_KEY
from tradeguard.sandbox.testing import eventually, seeded_exchange


@contextlib.asynccontextmanager
async def _beating_node(tmp_path: Path) -> AsyncIterator[tuple[TradingNode, ApiServer]]:
    """A sandbox node running live with its API, once it has written its first heartbeat;
    stopped cleanly on leaving."""
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        await node.start()
        app, _ = build_app(node)
        server = ApiServer(node, "127.0.0.1", 0, app=app)
        await server.start()
        run = asyncio.create_task(node.run_live())
        try:
            await eventually(lambda: node.storage.kv_get(HEARTBEAT_KEY) is not None)
            yield node, server
        finally:
            node.request_stop()
            await run
            await server.stop()
            await node.stop()
            node.close()


async def _status(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    capsys.readouterr()
    # In a thread: the command asks the API that this loop serves.
    assert await asyncio.to_thread(main, ["status", *argv, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


async def test_status_shows_the_heartbeat_and_the_health_of_a_running_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with _beating_node(tmp_path) as (node, server):
        db = node.config.node.database_url
        live = await _status(capsys, ["--db", db, "--api", server.url])
        capsys.readouterr()
        argv = ["status", "--db", db, "--api", server.url]
        assert await asyncio.to_thread(main, argv) == 0
        said = capsys.readouterr().out
        await node.kill("status drill", by="operator")
        halted = await _status(capsys, ["--db", db, "--api", server.url])
    gone = await _status(capsys, ["--db", db, "--api", server.url])
    assert live["heartbeat"]["state"] == "beating" and live["heartbeat"]["age_s"] < 10
    assert live["health"]["status"] == "ok" and live["health"]["mode"] == "sandbox"
    stream = live["health"]["checks"]["venues"]["venues"]["binance"]["user_stream"]
    assert stream["state"] in ("connecting", "connected") and stream["reconnects"] == 0
    # printed by a later status call: the stream may have connected since the first one
    assert re.search(r"user stream binance: (connecting|connected)", said), said
    assert halted["health"]["status"] == "degraded"
    assert halted["health"]["checks"]["trading"]["state"] == "HALTED"
    assert gone["health"]["status"] == "unreachable" and server.url in gone["health"]["api"]
    # A node that stopped cleanly says so at once: its last beat is no sign of life.
    assert gone["heartbeat"]["state"] == "stopped" and gone["heartbeat"]["age_s"] < 10
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["status", "--db", db, "--api", server.url]) == 0
    text = capsys.readouterr().out
    assert "Heartbeat: stopped" in text and "API not reachable" in text


def test_a_stored_heartbeat_older_than_the_limit_is_late(tmp_path: Path, data_dir: Path) -> None:
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    config = Config.model_validate({"node": {"database_url": f"sqlite:///{tmp_path / 'a.db'}"}})
    db = Database(config.node.database_url)
    db.migrate()
    storage = Storage(db)
    assert heartbeat_view(storage, config)["state"] == "none"
    storage.kv_set(HEARTBEAT_KEY, {"pid": 4242, "ts": 1_000, "wall_ms": 1_000_000})
    assert heartbeat_view(storage, config, now_ms=1_030_000)["state"] == "beating"
    late = heartbeat_view(storage, config, now_ms=1_030_001)
    assert (late["state"], late["age_s"], late["pid"]) == ("late", 30.0, 4242)


@pytest.mark.parametrize(
    ("extra", "field", "value", "limit"),
    [
        ("[health]\nloop_lag_max_s = 900\n", "health.loop_lag_max_s", "900", "600"),
        ("[health]\nheartbeat_max_age_s = 0\n", "health.heartbeat_max_age_s", "0", "1"),
        ("[alerts]\nheartbeat_interval_s = 0.01\n", "alerts.heartbeat_interval_s", "0.01", "0.1"),
    ],
)
def test_health_settings_are_validated_naming_field_value_and_limit(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    extra: str,
    field: str,
    value: str,
    limit: str,
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    bad = write_paper_toml(tmp_path, data, extra=extra)
    capsys.readouterr()
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert field in err and value in err and limit in err, err


def test_a_heartbeat_url_that_is_not_http_is_refused_without_echoing_it(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    bad = write_paper_toml(
        tmp_path, data, extra='[alerts]\nheartbeat_url = "ftp://hc.example/secret-token-123"\n'
    )
    capsys.readouterr()
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "alerts.heartbeat_url" in err and "secret-token-123" not in err, err


def test_a_fresh_heartbeat_of_a_process_that_has_ended_is_gone(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    config = Config.model_validate({"node": {"database_url": f"sqlite:///{tmp_path / 'a.db'}"}})
    db = Database(config.node.database_url)
    db.migrate()
    storage = Storage(db)
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid now names no process (a node killed with SIGKILL looks the same)
    here = socket.gethostname()
    storage.kv_set(HEARTBEAT_KEY, {"pid": ended.pid, "host": here, "ts": 1, "wall_ms": 1_000_000})
    gone = heartbeat_view(storage, config, now_ms=1_005_000)
    assert (gone["state"], gone["pid"]) == ("gone", ended.pid)
    # a process that runs, or one on another host (it cannot be asked), is still beating
    storage.kv_set(HEARTBEAT_KEY, {"pid": os.getpid(), "host": here, "ts": 1, "wall_ms": 1_000_000})
    assert heartbeat_view(storage, config, now_ms=1_005_000)["state"] == "beating"
    other = {"pid": ended.pid, "host": here + "-other", "ts": 1, "wall_ms": 1_000_000}
    storage.kv_set(HEARTBEAT_KEY, other)
    assert heartbeat_view(storage, config, now_ms=1_005_000)["state"] == "beating"


_STATUS_LINE = re.compile(r"^(Trading state: |Heartbeat: |Health: |Equity |\s|[┏┃┡└│])")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


async def test_status_of_a_halted_live_node_fits_80_columns_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line is laid out for 80 columns, never left to the terminal to wrap: a line the
    terminal breaks starts the next at column 0 in the middle of a sentence."""
    import sys

    from pty_support import run_in_pty

    exe = str(Path(sys.executable).parent / "tradeguard")
    write_vault(tmp_path, monkeypatch)
    reason = "drill: the desk stops trading to check the ledger after a venue outage overnight"
    async with _beating_node(tmp_path) as (node, server):
        db = node.config.node.database_url
        await node.kill(reason, by="operator")
        argv = [exe, "status", "--db", db, "--api", server.url]
        screens = {}
        for columns in (80, 200):
            code, screens[columns] = await asyncio.to_thread(
                run_in_pty, argv, cwd=tmp_path, columns=columns, timeout_s=120
            )
            assert code == 0, screens[columns]
    wide = [_ANSI.sub("", line).rstrip() for line in screens[200].splitlines() if line.strip()]
    assert "user stream binance" in screens[200] and "HALTED" in screens[200], screens[200]
    too_long = [line for line in wide if len(line) > 80]
    assert too_long == [], "\n".join(too_long)
    narrow = [_ANSI.sub("", line) for line in screens[80].splitlines() if line.strip()]
    broken = [line for line in narrow if not _STATUS_LINE.match(line)]
    assert broken == [], screens[80]
    assert reason.split()[-1] in screens[80] and "reconnect(s)" in screens[80]


# What an API at --api answers (another program on that port, or a proxy in between): every
# text in it is outside text, the status, the checks' names and states as much as their details.
_HOSTILE_HEALTH = {
    "status": "degraded\x1b]0;pwned\x07",
    "checks": {
        "venues\x1b[2J": {"status": "down[/]", "why": "x"},
        "venues": {"status": "ok", "venues": {"b": {"user_stream": {"state": "\x1b[8mhid[/]"}}}},
    },
}


def test_status_shows_a_hostile_health_answer_escaped_without_a_traceback(
    tmp_path: Path,
) -> None:
    import sys
    from http.server import BaseHTTPRequestHandler

    from pty_support import run_in_pty
    from rigs import threaded_http
    from tradeguard.storage.db import Database

    body = json.dumps(_HOSTILE_HEALTH).encode()

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    db = f"sqlite:///{tmp_path / 'a.db'}"
    Database(db).migrate()
    with threaded_http(Answer) as server:
        exe = str(Path(sys.executable).parent / "tradeguard")
        api = f"http://127.0.0.1:{server.server_port}"
        code, screen = run_in_pty([exe, "status", "--db", db, "--api", api], cwd=tmp_path)
    assert code == 0 and "Traceback" not in screen, screen
    for raw in ("\x1b]0;", "\x07", "\x1b[2J", "\x1b[8m"):
        assert raw not in screen, (raw, screen)
    assert "degraded\\x1b]0;pwned\\x07" in screen and "down[/]" in screen, screen
    assert "\\x1b[8mhid[/]" in screen, screen


@pytest.mark.parametrize("api", ["http://[::1", "garbage", "ftp://127.0.0.1", "http://:8000",
                                 "http://127.0.0.1:99999"])  # fmt: skip
def test_status_refuses_an_api_that_is_no_url(tmp_path, capsys, api):
    # "http://[::1" ended in a ValueError traceback; the others read "API not reachable", exit 0
    db = tmp_path / "tg.db"
    db.touch()
    assert main(["status", "--db", f"sqlite:///{db}", "--api", api]) == 2
    err = capsys.readouterr().err
    assert f"--api {api!r}: expected the node's API URL" in err and "Traceback" not in err


def test_status_names_a_bad_api_before_a_missing_database(tmp_path, capsys):
    # a fresh folder with no database: the misspelt --api was never named, the command failing
    # with exit 1 ("no database file") instead of the usage error (exit 2)
    db = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["status", "--db", db, "--api", "http://[::1"]) == 2
    err = capsys.readouterr().err
    assert "--api 'http://[::1': expected the node's API URL" in err, err
    assert not (tmp_path / "none.db").exists()
    assert main(["status", "--db", db]) == 1  # a good --api (none) still needs the database
    assert "no database file" in capsys.readouterr().err
