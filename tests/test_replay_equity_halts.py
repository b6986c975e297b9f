"""The replay loop leaves out the equity observation of a candle that cannot change anything
(a symbol not held, the cached equity standing, the same UTC day, before the next curve sample,
trading ACTIVE). The drawdown and daily-loss halts still see every equity change: they trip at
the same candle, with the same figures, as when every candle is observed."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from tradeguard.backtest import replay
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.risk.engine import RiskEngine

WINDOW = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-18"), commit_every=1_000)


def _breakers(run_dir: Path) -> list[tuple[int, str, Any]]:
    conn = sqlite3.connect(f"file:{run_dir / 'backtest.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT ts, kind, data FROM events WHERE kind LIKE 'risk.%' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [(ts, kind, json.loads(data)) for ts, kind, data in rows]


def _run(cfg_path: Path, out: Path, monkeypatch, every_candle: bool) -> dict[str, Any]:
    """One backtest; what the risk engine saw (each (ts, equity) that differs from the one
    before), its breaker events, and how many candles reached the node's observation."""
    seen: list[tuple[int, Decimal]] = []
    calls = [0]
    real_observe = RiskEngine.observe_equity
    real_step = replay._observe_equity

    def observing(self: RiskEngine, ts: int, equity: Decimal) -> None:
        if not seen or seen[-1][1] != equity:
            seen.append((ts, equity))
        real_observe(self, ts, equity)

    def step(node: Any, ts: int, symbol: str, units: bool, still: bool) -> tuple[int, int]:
        calls[0] += 1
        if every_candle:
            still = False  # the node's own observation of every candle
        span = real_step(node, ts, symbol, units, still)
        return (0, 0) if every_candle else span  # (0, 0): every candle observed, as before

    monkeypatch.setattr(RiskEngine, "observe_equity", observing)
    monkeypatch.setattr(replay, "_observe_equity", step)
    result = run_backtest(load_config(cfg_path), out, WINDOW)
    monkeypatch.undo()
    return {
        "seen": seen,
        "breakers": _breakers(out),
        "state": result.summary.trading_state,
        "trades": [(t.symbol, t.entry_ts, t.exit_ts, t.pnl) for t in result.trades],
        "curve": result.curve,
        "calls": calls[0],
        "candles": result.summary.events,
    }


@pytest.mark.parametrize(
    ("key", "limit", "breaker"),
    [("max_drawdown_pct", "0.05", "drawdown"), ("daily_loss_limit_pct", "0.03", "daily_loss")],
)
def test_a_halt_trips_at_the_same_candle_as_when_every_candle_is_observed(
    tmp_path, data_dir, monkeypatch, key, limit, breaker
):
    cfg = write_config(tmp_path, pairs=("ETH", "ADA", "LTC"))
    text = cfg.read_text(encoding="utf-8")
    line = f'{key} = "100"'
    assert line in text
    cfg.write_text(text.replace(line, f'{key} = "{limit}"'), encoding="utf-8")
    every = _run(cfg, tmp_path / "every", monkeypatch, every_candle=True)
    quiet = _run(cfg, tmp_path / "quiet", monkeypatch, every_candle=False)
    tripped = [b for b in every["breakers"] if b[1] == "risk.breaker_tripped"]
    assert [b[2]["breaker"] for b in tripped][:1] == [breaker], every["breakers"]
    assert every["state"] != "active"
    # the same halt, at the same candle's close, with the same figures; the same equity path
    assert quiet["breakers"] == every["breakers"]
    assert quiet["seen"] == every["seen"]
    assert (quiet["state"], quiet["trades"], quiet["curve"]) == (
        every["state"],
        every["trades"],
        every["curve"],
    )
    # and the candles left out were real: the loop observed fewer of them
    assert quiet["calls"] < every["calls"]


def test_an_idle_strategy_leaves_most_candles_unobserved_and_the_curve_unchanged(
    tmp_path, data_dir, monkeypatch
):
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_strategies.py"
    cfg = write_config(tmp_path, pairs=("ETH", "ADA", "LTC"))
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace(str(replay_strategy()), f"{bench}:Idle"), encoding="utf-8")
    every = _run(cfg, tmp_path / "every", monkeypatch, every_candle=True)
    quiet = _run(cfg, tmp_path / "quiet", monkeypatch, every_candle=False)
    assert every["calls"] == every["candles"] > 3_000  # a callback strategy: no bulk skips
    assert quiet["calls"] < every["candles"] // 2  # the curve samples each 5-minute close
    assert quiet["curve"] == every["curve"] and len(every["curve"]) > 500
    assert quiet["seen"] == every["seen"] and quiet["breakers"] == every["breakers"]


def replay_strategy() -> str:
    from backtest_support import STRATEGY_FILE

    return f"{STRATEGY_FILE}:EmaCross"
