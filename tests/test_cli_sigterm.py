"""A service manager stops `tradeguard run` with SIGTERM, a person with Ctrl-C (SIGINT): either way
a live run ends with its final checkpoint, its run.finished record and its summary (exit 0 on
SIGTERM, 130 on Ctrl-C: the shell and scripts learn it was interrupted)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from live_support import sandbox_toml, write_vault
from tradeguard.sandbox.testing import seeded_exchange

EXE = Path(sys.executable).parent / "tradeguard"


def _kv(db: Path, key: str) -> object:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute("SELECT value FROM kv_state WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None  # not created yet
    finally:
        conn.close()
    return None if row is None else json.loads(row[0])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
async def test_sigterm_ends_a_sandbox_run_with_its_checkpoint_and_summary(
    sig, tmp_path, monkeypatch
):
    # Ctrl-C used to end the run with "tradeguard: interrupted" and exit 130: no summary, no
    # run.finished, although the docs say SIGTERM ends a run "as Ctrl-C does".
    write_vault(tmp_path, monkeypatch)
    db = tmp_path / "tg.db"
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.2)
        proc = await asyncio.create_subprocess_exec(
            str(EXE), "run", "--config", str(config), "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            for _ in range(600):  # the live loop's first heartbeat: it is trading
                if _kv(db, "node.heartbeat") is not None or proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
            proc.send_signal(sig)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == (130 if sig == signal.SIGINT else 0), err.decode()
    summary = json.loads(out)
    assert summary["mode"] == "sandbox" and summary["trading_state"] == "ACTIVE"
    assert b"Traceback" not in err
    conn = sqlite3.connect(db)
    kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
    conn.close()
    assert kinds[-1] == "run.finished"  # the run ended itself; nothing was cut off


def test_a_venue_down_at_start_with_the_api_on_is_one_line(tmp_path, monkeypatch):
    # The API server started before the venues connected; a venue refusing the connection left
    # its tasks to be cancelled at the loop's close, which printed two tracebacks first.
    import subprocess

    write_vault(tmp_path, monkeypatch)
    config = tmp_path / "down.toml"
    config.write_text(f"""
mode = "sandbox"
strategies = []
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[api]
enabled = true
port = 0
[[venues]]
name = "binance"
kind = "ccxt"
exchange = "binance"
credentials = "alice"
rest_url = "http://127.0.0.1:9"
symbols = ["BTC/USDT"]
""")
    done = subprocess.run(
        [str(EXE), "run", "--config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "tradeguard: binance: load_markets failed" in done.stderr
