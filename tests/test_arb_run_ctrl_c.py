"""`tradeguard arb run` in a terminal, one Ctrl-C typed while a cycle's leg is in flight (the
sandbox takes 1.5 s to answer each order): the run waits for the cycle (bounded by
stop_timeout_s), ends with exit 130, and every leg that filled is named by a recorded attempt,
so nothing is left for the next start to find unrecorded. A SIGKILL at the same moment is the
crash case the next start reports (test_triangular_interrupted.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pty_support import PtySession
from tradeguard.execution.interrupted_arb import interrupted_legs
from tradeguard.model.order import Order
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from triangular_node_support import ARB_PARAMS, sandbox_config, threaded_sandbox, to_toml

EXE = Path(sys.executable).parent / "tradeguard"
ORDER_LATENCY_MS = 1500


@pytest.fixture
def slow_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SandboxExchange]:
    """A drifting sandbox, served from its own thread, answering each order after 1.5 s."""
    with threaded_sandbox(monkeypatch, tmp_path, ORDER_LATENCY_MS) as ex:
        yield ex


def _orders(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()


def _ctrl_c_during_a_leg(config: Path, tmp_path: Path) -> tuple[int, str, float]:
    db = tmp_path / "tg.db"
    session = PtySession([str(EXE), "arb", "run", "--config", str(config)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 180
        while _orders(db) == 0 and session.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _orders(db) > 0, session.finish(5)  # a leg journaled: its answer is 1.5 s off
        asked = time.monotonic()
        session.type(b"\x03")  # one Ctrl-C, never a second
        code, screen = session.finish(60)
        took = time.monotonic() - asked
    finally:
        if session.proc.poll() is None:
            session.proc.kill()
    return code, screen, took


def _after(db: Path) -> tuple[list[dict[str, Any]], list[Order], list[Order]]:
    """The recorded attempts, the filled legs no record names, the orders not yet terminal."""
    storage = Storage(Database(f"sqlite:///{db}"))
    try:
        records = load_arb_executions(storage, strategy_id="tri")
        unrecorded = interrupted_legs(storage, "tri")
        orders = storage.load_orders(strategy_id="tri")
    finally:
        storage.db.dispose()
    return records, unrecorded, [o for o in orders if not o.status.is_terminal]


def test_one_ctrl_c_during_a_leg_ends_the_run_with_every_leg_recorded(
    slow_sandbox: SandboxExchange, tmp_path: Path
) -> None:
    config = tmp_path / "arb.toml"
    config.write_text(to_toml(sandbox_config(tmp_path, slow_sandbox)))
    code, screen, took = _ctrl_c_during_a_leg(config, tmp_path)
    assert code == 130, screen
    assert took < 30 + 15, (took, screen)  # stop_timeout_s bounds the wait for the cycle
    assert "Traceback" not in screen, screen
    records, unrecorded, still_open = _after(tmp_path / "tg.db")
    assert records, screen  # the cycle in flight was recorded
    assert unrecorded == [], unrecorded
    assert still_open == [], still_open


def test_a_cycle_cut_by_the_stop_timeout_is_recorded_by_the_next_start(
    slow_sandbox: SandboxExchange, tmp_path: Path
) -> None:
    """stop_timeout_s shorter than a leg: the run stops without the cycle's record, its legs
    journaled; the next start reconciles them and records what filled."""
    params = {**ARB_PARAMS, "stop_timeout_s": 0.5}
    config = tmp_path / "arb.toml"
    config.write_text(to_toml(sandbox_config(tmp_path, slow_sandbox, params=params)))
    code, screen, took = _ctrl_c_during_a_leg(config, tmp_path)
    assert code == 130, screen
    assert took < 0.5 + 15, (took, screen)
    assert "the next start reconciles its legs" in screen, screen
    slow_sandbox.faults.latency_ms_by_endpoint.clear()  # the next run's own cycles end in time
    config.write_text(to_toml(sandbox_config(tmp_path, slow_sandbox)))
    again = subprocess.run(
        [str(EXE), "arb", "run", "--config", str(config), "--duration", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    _, unrecorded, still_open = _after(tmp_path / "tg.db")
    assert unrecorded == [], (unrecorded, again.stderr)
    assert still_open == [], still_open
