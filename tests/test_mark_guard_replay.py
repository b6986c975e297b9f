"""A candle close 1000 times off in a data file is held in a backtest as a bad book update is live.

The paper account holds 10 ETH beside its 1 BTC, so one ETH/BTC close at a thousandth of the
price would be a drawdown near 47 % (the limit here: 10 %). With the mark guard the run sees the
print, warns, drops it at the next candle, and ends with the same equity curve, state and trades
as the same run on the clean file.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from backtest_support import write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestResult, BacktestWindow, run_backtest
from tradeguard.config import load_config

WINDOW = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-14"), commit_every=1_000)
BAD_AT = "2018-01-13 00:00"  # the close 1000 times off
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_strategies.py"


def _rows(run_dir: Path, sql: str) -> list[Any]:
    """The rows `sql` selects from the run's backtest.db, opened read-only."""
    conn = sqlite3.connect(f"file:{run_dir / 'backtest.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _events(run_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = _rows(run_dir, "SELECT kind, data FROM events WHERE kind LIKE 'risk.%' ORDER BY id")
    return [(kind, json.loads(data)) for kind, data in rows]


def warned_data(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for k, d in run["events"] if k == "risk.warning"]


def _bad_file(src: Path, dst: Path, low_only: bool = False) -> None:
    rows = feather.read_table(src).to_pylist()
    at = parse_date(BAD_AT)
    hit = [r for r in rows if int(r["date"].timestamp() * 1000) == at]
    assert len(hit) == 1, "the candle to spoil is in the file"
    r = hit[0]
    r["low"] = r["close"] / 1000
    if not low_only:
        r["close"] = r["low"]
    schema = feather.read_table(src).schema
    feather.write_feather(pa.Table.from_pylist(rows, schema=schema), dst)


def _config(tmp: Path, data_dir: Path, candles: Path) -> Path:
    cfg = write_config(tmp, pairs=("ETH",))
    text = cfg.read_text(encoding="utf-8")
    for old, new in (
        ('path = "candles/ETH_BTC-5m.feather"', f'path = "{candles}"'),
        ('balances = { BTC = "1" }', 'balances = { BTC = "1", ETH = "10" }'),
        ('max_drawdown_pct = "100"', 'max_drawdown_pct = "10"'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    strategy = text.index("[[strategies]]")
    kind = text.index("kind = ", strategy)
    end = text.index("\n", kind)
    text = text[:kind] + f'kind = "{BENCH}:Idle"' + text[end:]
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _run(tmp: Path, data_dir: Path, candles: Path) -> dict[str, Any]:
    tmp.mkdir()
    out = tmp / "run"
    result = run_backtest(load_config(_config(tmp, data_dir, candles)), out, WINDOW)
    return {
        "state": result.summary.trading_state,
        "curve": result.curve,
        "trades": [(t.symbol, t.entry_ts, t.exit_ts, t.pnl) for t in result.trades],
        "events": _events(out),
    }


def test_a_close_1000_times_off_is_held_and_dropped_leaving_the_run_unchanged(
    tmp_path: Path, data_dir: Path
) -> None:
    clean_file = data_dir / "candles" / "ETH_BTC-5m.feather"
    bad_file = tmp_path / "ETH_BTC-5m.feather"
    _bad_file(clean_file, bad_file)
    clean = _run(tmp_path / "clean", data_dir, clean_file)
    bad = _run(tmp_path / "bad", data_dir, bad_file)
    assert bad["state"] == clean["state"] == "ACTIVE", bad["events"]
    tripped = [d for k, d in bad["events"] if k == "risk.breaker_tripped"]
    assert not tripped, tripped
    warned = [d.get("warning") for k, d in bad["events"] if k == "risk.warning"]
    assert warned == ["mark_suspect", "mark_dropped"], bad["events"]
    assert not [d for k, d in clean["events"] if k == "risk.warning"]
    # the same curve, but for the sample at the bad candle: the last accepted mark held there
    differ = [(b, c) for b, c in zip(bad["curve"], clean["curve"], strict=True) if b != c]
    accepted = Decimal(warned_data(bad)[0]["accepted"])
    assert len(differ) == 1, differ
    (_, value), (_, real) = differ[0]
    assert Decimal(str(value)) == 1 + 10 * accepted != Decimal(str(real))
    assert bad["trades"] == clean["trades"]
    low = min(Decimal(str(p[1])) for p in bad["curve"])
    assert low > Decimal("1.5"), "the held print never reached the equity"


def _crash_file(src: Path, dst: Path, falls: int) -> None:
    """From BAD_AT on, every candle halves on the one before for `falls` candles, then stays."""
    table = feather.read_table(src)
    rows, at, k = table.to_pylist(), parse_date(BAD_AT), 0
    for r in rows:
        if int(r["date"].timestamp() * 1000) >= at:
            k = min(k + 1, falls)
            for field in ("open", "high", "low", "close"):
                r[field] = r[field] / 2**k
    feather.write_feather(pa.Table.from_pylist(rows, schema=table.schema), dst)


def _trips(run_dir: Path) -> list[int]:
    rows = _rows(run_dir, "SELECT ts FROM events WHERE kind = 'risk.breaker_tripped'")
    return [ts for (ts,) in rows]


def test_a_crash_falling_past_the_limit_on_every_candle_trips_the_drawdown_breaker(
    tmp_path: Path, data_dir: Path
) -> None:
    # ETH/BTC halves candle after candle for an hour: each close 50 % below the one before,
    # over the 30 % limit every time, yet no print: the move is real and the equity must see it
    crash_file = tmp_path / "ETH_BTC-5m.feather"
    _crash_file(data_dir / "candles" / "ETH_BTC-5m.feather", crash_file, falls=12)
    run = _run(tmp_path / "crash", data_dir, crash_file)
    assert run["state"] != "ACTIVE", run["events"]
    trips = _trips(tmp_path / "crash" / "run")
    assert trips and min(trips) <= parse_date(BAD_AT) + 10 * 60_000, (trips, run["events"])
    confirmed = [d for d in warned_data(run) if d.get("warning") == "mark_confirmed"]
    assert confirmed, run["events"]


_STOP_STRATEGY = '''
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class BuyThenStop(Strategy):
    """Buys 0.1 ETH on the first candle, then rests a stop at half the price."""

    bought = False

    def on_candle(self, candle):
        ctx = self.ctx
        if ctx is None or ctx.open_order_count(self.id, self.symbol):
            return
        held = ctx.position(self.id, self.venue, self.symbol).quantity
        side, kind, trigger = Side.BUY, OrderType.MARKET, None
        if held > 0:
            side, kind = Side.SELL, OrderType.STOP_LOSS
            trigger = (candle.close / 2).quantize(Decimal("0.000001"))
        elif self.bought:
            return
        self.bought = True
        self.emit(OrderIntent(
            strategy_id=self.id, venue=self.venue, symbol=self.symbol, side=side,
            amount=held or Decimal("0.1"), type=kind, trigger_price=trigger,
            reduce_only=side is Side.SELL,
        ))
'''
ORDERS = "SELECT type, status FROM orders ORDER BY rowid"


def _stop_run(tmp_path: Path, data_dir: Path, candles: Path) -> tuple[BacktestResult, Path]:
    """A backtest of BuyThenStop on `candles`: its result and its output folder."""
    strategy = tmp_path / "buy_then_stop.py"
    strategy.write_text(_STOP_STRATEGY, encoding="utf-8")
    (tmp_path / "run").mkdir()
    cfg = _config(tmp_path / "run", data_dir, candles)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace(f"{BENCH}:Idle", f"{strategy}:BuyThenStop"), encoding="utf-8")
    out = tmp_path / "run" / "out"
    return run_backtest(load_config(cfg), out, WINDOW), out


def test_a_held_close_does_not_fire_a_resting_paper_stop_in_a_backtest(
    tmp_path: Path, data_dir: Path
) -> None:
    bad_file = tmp_path / "ETH_BTC-5m.feather"
    _bad_file(data_dir / "candles" / "ETH_BTC-5m.feather", bad_file)
    result, out = _stop_run(tmp_path, data_dir, bad_file)
    warned = [d.get("warning") for d in warned_data({"events": _events(out)})]
    assert warned == ["mark_suspect", "mark_dropped"], warned
    orders = _rows(out, ORDERS)
    assert [o[0] for o in orders] == ["market", "stop_loss"], orders
    assert orders[1][1] != "filled" and result.trades == [], "the stop fired on the held close"


def test_a_bad_low_alone_does_not_fire_a_resting_paper_stop_in_a_backtest(
    tmp_path: Path, data_dir: Path
) -> None:
    # one trade 1000 times off recorded into a bar: its low; the close is the market's
    bad_file = tmp_path / "ETH_BTC-5m.feather"
    _bad_file(data_dir / "candles" / "ETH_BTC-5m.feather", bad_file, low_only=True)
    result, out = _stop_run(tmp_path, data_dir, bad_file)
    orders = _rows(out, ORDERS)
    assert [o[0] for o in orders] == ["market", "stop_loss"], orders
    assert orders[1][1] != "filled" and result.trades == [], "the stop fired on the bad low"


def _wick_file(src: Path, dst: Path, flat: bool) -> None:
    """At BAD_AT a real fall: the bar's low 55 % down (past the 30 % limit), its close 28 %
    down (within it); every bar after stays down there (55 % below the file's prices, or
    `flat`: every price of every bar at that low)."""
    table = feather.read_table(src)
    rows, at, low = table.to_pylist(), parse_date(BAD_AT), 0.0
    for r in rows:
        ts = int(r["date"].timestamp() * 1000)
        if ts == at:
            low = r["low"] = r["low"] * 0.45
            r["close"] = r["close"] * 0.72
        elif ts > at:
            for field in ("open", "high", "low", "close"):
                r[field] = low if flat else r[field] * 0.45
    feather.write_feather(pa.Table.from_pylist(rows, schema=table.schema), dst)


@pytest.mark.parametrize("flat", [False, True])
def test_a_real_wick_past_the_limit_fills_a_resting_stop_at_the_bar_confirming_the_move(
    tmp_path: Path, data_dir: Path, flat: bool
) -> None:
    wick_file = tmp_path / "ETH_BTC-5m.feather"
    _wick_file(data_dir / "candles" / "ETH_BTC-5m.feather", wick_file, flat)
    result, out = _stop_run(tmp_path, data_dir, wick_file)
    events = _events(out)
    confirmed = [d for d in warned_data({"events": events}) if d["warning"] == "mark_confirmed"]
    assert len(confirmed) == 1, events
    orders = _rows(out, ORDERS)
    fills = _rows(out, "SELECT ts, price FROM fills ORDER BY rowid")
    confirmed_ts = _rows(
        out, "SELECT ts FROM events WHERE kind = 'risk.warning' AND data LIKE '%mark_confirmed%'"
    )[0][0]
    assert [o[0] for o in orders] == ["market", "stop_loss"], orders
    assert orders[1][1] == "filled", (orders, fills, events)
    assert len(result.trades) == 1
    # the bar with the wick is withheld (its low is past the limit), the next one is held (its
    # close is); the bar after confirms the move and the stop fills on it
    assert fills[1][0] == confirmed_ts == parse_date(BAD_AT) + 15 * 60_000, (fills, events)
