"""A vectorised strategy that declares its exits (`exit_columns`, `exit_rules`) is left out on
the candles of a held position where no exit can fire, and the backtest comes out the same."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config
from tradeguard.marketdata.loaders import load_candles
from tradeguard.strategies.exits import ExitRules, ExitTracker
from tradeguard.strategies.loader import load_strategy_class


def _figures(result):
    trades = [dataclasses.astuple(t) for t in result.trades]
    metrics = {k: v for k, v in result.metrics.items() if k != "elapsed_s"}
    return trades, result.curve, metrics, result.summary.events


def test_held_candles_without_an_exit_skip_the_strategy_and_change_nothing(
    tmp_path, data_dir, monkeypatch
):
    from tradeguard.backtest import bulk

    held_quiet: list[str] = []
    real = bulk.QuietSymbols.strategies

    def counting(self, symbol, held=None, candle=None):
        mine = real(self, symbol, held, candle)
        if mine is not None and symbol in self._node.held_symbols():
            held_quiet.append(symbol)
        return mine

    monkeypatch.setattr(bulk.QuietSymbols, "strategies", counting)
    cfg = load_config(write_config(tmp_path, pairs=("ETH", "ADA", "LTC", "XLM")))
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-20"), commit_every=997)
    one = run_backtest(cfg, tmp_path / "one", dataclasses.replace(window, skip_flat=False))
    assert held_quiet == []
    skipped = run_backtest(cfg, tmp_path / "skipped", window)
    assert len(one.trades) > 60
    assert len(held_quiet) > 2_000 and len(set(held_quiet)) == 4
    assert _figures(skipped) == _figures(one)


def _ema(params=None):
    cls = load_strategy_class(f"{STRATEGY_FILE}:EmaCross")
    return cls("s", "paper", "ETH/BTC", {"fast": 12, "slow": 26, **(params or {})})


def test_a_quiet_held_row_is_one_where_the_strategy_would_not_exit(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    strat = _ema()
    strat.precompute(candles)
    cross_down = [strat.row_for(c)["cross_down"] for c in candles]
    quiet = exits = extra = 0
    for start in range(0, len(candles) - 600, 97):
        entry = candles[start].close
        for long in (True, False):
            tracker = ExitTracker(strat.exit_rules, entry, long=long)
            for k in range(start + 1, start + 600):  # until the position would be closed
                c = candles[k]
                exit_now = tracker.update(c.close) is not None or bool(cross_down[k])
                if strat.holds_quietly(c, entry, long):
                    assert not exit_now, (start, k, long)
                    quiet += 1
                elif exit_now:
                    exits += 1
                    break
                else:
                    extra += 1  # delivered although nothing fires (allowed, but rare)
    assert exits > 100 and quiet > 10 * exits and extra < exits


def test_an_entry_on_the_stop_level_is_not_quiet(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    strat = _ema()
    strat.precompute(candles)
    c = candles[1000]
    # an entry whose stop is exactly this close: the tracker fires, so the row is delivered
    entry = c.close / (1 - strat.exit_rules.stop_loss_pct / Decimal(100))
    assert ExitTracker(strat.exit_rules, entry, long=True).update(c.close) == "stop_loss"
    assert not strat.holds_quietly(c, entry, True)
    assert strat.holds_quietly(c, c.close, True) != bool(strat.row_for(c)["cross_down"])


def test_without_declared_exits_or_with_a_trailing_stop_every_held_row_is_delivered(data_dir):
    candles = load_candles(data_dir / "candles" / "ETH_BTC-5m.feather", symbol="ETH/BTC")
    undeclared = _ema()
    undeclared.exit_columns = None
    trailing = _ema()
    trailing.exit_rules = ExitRules(Decimal(2), Decimal(5), trailing_stop_pct=Decimal(1))
    declared = _ema()
    for strat in (undeclared, trailing, declared):
        strat.precompute(candles)
    rows = candles[2000:2300]
    entry = rows[0].close
    assert not any(s.holds_quietly(c, entry, True) for c in rows for s in (undeclared, trailing))
    assert sum(declared.holds_quietly(c, entry, True) for c in rows) > 100
