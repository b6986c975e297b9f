"""`tradeguard pm arb run` in a terminal, one Ctrl-C typed while the first leg of a pair is in
flight (the local Polymarket CLOB takes 1.5 s to answer each order): the run waits for the pair
(bounded by stop_timeout_s), ends with exit 130, and every leg that filled is named by a
recorded attempt; nothing is left open. A SIGKILL at the same moment is the crash case the next
start unwinds (test_pm_arb_interrupted.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pm_arb_support import example_map_far_off
from pty_support import PtySession
from test_pm_arb_node import vault_with_both
from tradeguard.execution.interrupted_arb import interrupted_legs
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from triangular_node_support import to_toml

EXE = Path(sys.executable).parent / "tradeguard"


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, ...]]:
    """Both local venues, served from their own thread; Polymarket answers orders after 1.5 s."""
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    pm.faults.latency_ms_by_endpoint["/order"] = 1500
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(kalshi.start(), loop).result(10)
    asyncio.run_coroutine_threadsafe(pm.start(), loop).result(10)
    try:
        yield kalshi, pm, loop
    finally:
        asyncio.run_coroutine_threadsafe(pm.stop(), loop).result(10)
        asyncio.run_coroutine_threadsafe(kalshi.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _config(tmp: Path, kalshi: Any, pm: Any) -> Path:
    data = {
        "mode": "sandbox",
        "node": {
            "database_url": f"sqlite:///{tmp / 'tg.db'}", "kill_sentinel": str(tmp / "tg.kill"),
            "valuation_asset": "USD",
        },
        "risk": {
            "min_order_notional_usd": "1", "price_band_pct": "10",
            "max_order_notional_usd": "1000", "arb_max_cycle_notional_usd": "1000",
        },
        "data": [],
        "venues": [
            {"name": "kalshi", "kind": "kalshi", "credentials": "kalshi-demo",
             "rest_url": kalshi.rest_url, "ws_url": kalshi.ws_url},
            {"name": "polymarket", "kind": "polymarket", "credentials": "pm-demo",
             "rest_url": pm.url},
        ],
        "strategies": [{
            "id": "pmarb", "kind": "cross_venue", "venue": "polymarket",
            "params": {"map": str(example_map_far_off(tmp)), "kalshi_venue": "kalshi",
                       "cooldown_s": 30},
        }],
    }  # fmt: skip
    path = tmp / "pmarb.toml"
    path.write_text(to_toml(data))
    return path


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


def test_one_ctrl_c_during_the_first_leg_ends_the_run_with_both_legs_recorded(
    servers: tuple[Any, ...], tmp_path: Path
) -> None:
    kalshi, pm, loop = servers
    config = _config(tmp_path, kalshi, pm)
    db = tmp_path / "tg.db"
    session = PtySession([str(EXE), "pm", "arb", "run", "--config", str(config)], cwd=tmp_path)
    try:
        session.expect("Starting a sandbox run", timeout_s=180)
        time.sleep(2.0)  # fair prices first
        scenario = ArbScenario(
            pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=Decimal(20))
        )
        loop.call_soon_threadsafe(scenario.appear, scenario.markets[0])
        deadline = time.monotonic() + 60
        while _orders(db) == 0 and session.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _orders(db) > 0, session.finish(5)  # the first leg journaled, 1.5 s from filled
        asked = time.monotonic()
        session.type(b"\x03")  # one Ctrl-C, never a second
        code, screen = session.finish(60)
        took = time.monotonic() - asked
    finally:
        if session.proc.poll() is None:
            session.proc.kill()
    assert code == 130, screen
    assert took < 30 + 15, (took, screen)  # stop_timeout_s bounds the wait for the pair
    assert "Traceback" not in screen, screen
    storage = Storage(Database(f"sqlite:///{db}"))
    try:
        records = load_arb_executions(storage, strategy_id="pmarb")
        unrecorded = interrupted_legs(storage, "pmarb")
        orders = storage.load_orders(strategy_id="pmarb")
    finally:
        storage.db.dispose()
    assert records, screen  # the pair in flight was recorded
    assert unrecorded == [], unrecorded
    assert [o for o in orders if not o.status.is_terminal] == [], orders
    assert any(o.filled > 0 for o in orders), orders  # a leg had filled: the case looked at
