"""Skipping the candles without a signal while nothing is held changes nothing: the same trades,
equity curve and metrics as delivering every candle one by one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from tradeguard.backtest import replay
from tradeguard.backtest.bulk import merge_with_plan
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestResult, BacktestWindow, run_backtest
from tradeguard.config import load_config

ROOT = Path(__file__).resolve().parents[1]
BENCH_STRATEGIES = ROOT / "benchmarks" / "backtest_strategies.py"


def _figures(result: BacktestResult) -> tuple[Any, ...]:
    trades = [
        (t.symbol, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.amount, t.pnl, t.fees,
         t.entry_reason, t.exit_reason)
        for t in result.trades
    ]  # fmt: skip
    metrics = {k: v for k, v in result.metrics.items() if k != "elapsed_s"}
    return trades, result.curve, metrics, result.summary.events


def _both(cfg_path: Path, tmp_path: Path, window: BacktestWindow, monkeypatch) -> tuple:
    skipped: list[int] = []
    real = replay.advance_flat

    def counting(node, candles, plan, i, j):
        skipped.append(j - i)
        return real(node, candles, plan, i, j)

    monkeypatch.setattr(replay, "advance_flat", counting)
    cfg = load_config(cfg_path)
    one = run_backtest(cfg, tmp_path / "one", dataclasses.replace(window, skip_flat=False))
    assert skipped == []
    bulk = run_backtest(cfg, tmp_path / "bulk", window)
    return one, bulk, sum(skipped)


def _window(**kw: Any) -> BacktestWindow:
    return BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-18"), **kw)


def test_skipping_flat_candles_gives_the_same_trades_curve_and_metrics(
    tmp_path, data_dir, monkeypatch
):
    cfg = write_config(tmp_path, pairs=("ETH", "ADA", "LTC"))
    one, bulk, skipped = _both(cfg, tmp_path, _window(commit_every=1_000), monkeypatch)
    assert len(one.trades) > 20
    assert skipped > 500  # the stretches were really skipped, not run one by one
    assert _figures(bulk) == _figures(one)


def test_skipping_a_quiet_symbols_strategies_while_others_hold_changes_nothing(
    tmp_path, data_dir, monkeypatch
):
    from tradeguard.backtest import bulk

    quiet: list[str] = []
    real = bulk.QuietSymbols.strategies

    def counting(self, symbol, held=None, candle=None):
        mine = real(self, symbol, held, candle)
        if mine is not None and self._node.portfolio.open_positions():
            quiet.append(symbol)  # skipped although the node holds something (another pair)
        return mine

    monkeypatch.setattr(bulk.QuietSymbols, "strategies", counting)
    cfg = write_config(tmp_path, pairs=("ETH", "ADA", "LTC", "XLM"))
    one, both, _ = _both(cfg, tmp_path, _window(commit_every=1_000), monkeypatch)
    assert len(one.trades) > 40
    assert len(quiet) > 1_000 and len(set(quiet)) == 4
    assert _figures(both) == _figures(one)


def test_an_idle_vectorised_strategy_skips_everything_and_keeps_the_curve(
    tmp_path, data_dir, monkeypatch
):
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8")
    import re

    text = re.sub(r'kind = "[^"]*:EmaCross"', f'kind = "{BENCH_STRATEGIES}:IdleVector"', text)
    path.write_text(text, encoding="utf-8")
    one, bulk, skipped = _both(path, tmp_path, _window(), monkeypatch)
    assert _figures(bulk) == _figures(one)
    assert skipped >= one.summary.events - 2  # all but the first candle(s), while equity is unset
    assert len(one.curve) > 1000


def test_a_callback_strategy_gets_every_candle(tmp_path, data_dir):
    path = write_config(tmp_path, pairs=("ETH",))
    text = path.read_text(encoding="utf-8")
    import re

    text = re.sub(r'kind = "[^"]*:EmaCross"', f'kind = "{BENCH_STRATEGIES}:Idle"', text)
    path.write_text(text, encoding="utf-8")
    from tradeguard.backtest.frames import load_series
    from tradeguard.strategies.loader import load_strategy_class

    cfg = load_config(path)
    series = load_series(cfg, parse_date("2018-01-12"), parse_date("2018-01-13"), None)
    strat = load_strategy_class(f"{BENCH_STRATEGIES}:Idle")("s", "paper", "ETH/BTC", {})
    candles, plan = merge_with_plan(series, [strat])
    assert plan is None and len(candles) == 288


def test_merged_candles_keep_time_order_and_series_order_on_ties(data_dir, tmp_path):
    from tradeguard.backtest.frames import load_series

    cfg = load_config(write_config(tmp_path, pairs=("ETH", "ADA")))
    series = load_series(cfg, parse_date("2018-01-12"), parse_date("2018-01-13"), None)
    candles, _ = merge_with_plan(series, [])
    assert [c.ts for c in candles] == sorted(c.ts for c in candles)
    assert [c.symbol for c in candles[:2]] == list(series)  # same ts: the first series first
    assert len(candles) == sum(len(s) for s in series.values())


@pytest.mark.parametrize("checkpoint", [97, 1_000])
def test_skips_stop_at_every_checkpoint(tmp_path, data_dir, monkeypatch, checkpoint):
    cfg = write_config(tmp_path, pairs=("ETH", "ADA"))
    seen: list[int] = []
    progress = lambda done, total: seen.append(done)  # noqa: E731
    result = run_backtest(load_config(cfg), tmp_path / "r", _window(commit_every=checkpoint),
                          progress=progress)  # fmt: skip
    total = result.summary.events
    assert seen[:-1] == list(range(checkpoint, total + 1, checkpoint))


def test_merging_loaded_series_equals_merging_plain_lists(data_dir, tmp_path):
    from tradeguard.backtest.frames import load_series
    from tradeguard.marketdata.arrow_candles import ColumnCandles

    cfg = load_config(write_config(tmp_path, pairs=("ETH", "ADA", "LTC")))
    series = load_series(cfg, parse_date("2018-01-12"), parse_date("2018-01-15"), None)
    assert all(isinstance(s, ColumnCandles) for s in series.values())
    plain = {symbol: list(s) for symbol, s in series.items()}
    for strategies in ([], _precomputed(cfg, series)):
        loaded, loaded_plan = merge_with_plan(series, strategies)
        listed, listed_plan = merge_with_plan(plain, strategies)
        assert loaded == listed
        if strategies:
            assert loaded_plan is not None and listed_plan is not None
            assert loaded_plan.close_ts == listed_plan.close_ts == [c.close_ts for c in loaded]
            assert loaded_plan.next_signal == listed_plan.next_signal


def _precomputed(cfg, series):
    from tradeguard.strategies.loader import load_strategy_class

    out = []
    for sc in cfg.strategies:
        strat = load_strategy_class(sc.kind)(sc.id, sc.venue, sc.symbol, sc.params)
        strat.precompute(series[sc.symbol])
        out.append(strat)
    return out


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_stretch_searched_in_order_marks_what_a_scan_marks(seed: int) -> None:
    """Samples and day rolls found by search over ordered close times, and each symbol's last
    candle found from the stretch's ends, are those of a scan over every candle."""
    import random
    from decimal import Decimal
    from types import SimpleNamespace

    from tradeguard.backtest.bulk import DAY_MS, _last_of_each, _marks_ordered, _marks_scanned
    from tradeguard.model.market import Candle

    rng = random.Random(seed)
    ts, close_ts, candles = 0, [], []
    for _ in range(3_000):
        ts += rng.choice([0, 0, 0, 300_000, 300_000, 3_600_000, 2 * DAY_MS])
        close_ts.append(ts + 300_000)
        symbol = rng.choice("ABCDEFG" if rng.random() < 0.9 else "AH")
        candles.append(Candle(symbol, ts, *[Decimal(1)] * 5, 300))
    symbols = len({c.symbol for c in candles})
    for _ in range(60):
        i = rng.randrange(len(candles) - 1)
        j = rng.randrange(i + 1, min(len(candles), i + rng.choice([3, 40, 900])) + 1)
        day = rng.choice([None, close_ts[i] // DAY_MS, close_ts[i] // DAY_MS - 1])
        node = SimpleNamespace(equity_sample_ms=rng.choice([300_000, 900_000]), _day=day)
        start = close_ts[i] + rng.choice([-600_000, 0, 600_000])
        got = _marks_ordered(close_ts, i, j, start, node)  # type: ignore[arg-type]
        assert got == _marks_scanned(close_ts, i, j, start, node)  # type: ignore[arg-type]
        last = {c.symbol: c for c in candles[i:j]}
        each = _last_of_each(candles, i, j, symbols)
        assert list(each.items()) == list(last.items()), "the same candles, in the same order"


def test_a_flat_stretch_over_mixed_timeframes_marks_what_one_by_one_marks(
    tmp_path, data_dir, monkeypatch
):
    """Daily bars merged with the finer bars of another pair (each at its close): the flat
    stretches' samples and day rolls are those of a replay candle by candle."""
    import re

    from tradeguard.backtest.frames import load_series, resample

    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'kind = "[^"]*:EmaCross"', f'kind = "{BENCH_STRATEGIES}:IdleVector"', text)
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    window = _window()
    series = load_series(cfg, window.start_ms, window.end_ms, None)
    coarse = next(s for s in series if s.startswith("ADA"))
    series[coarse] = resample(series[coarse], 86_400, coarse)
    merged = merge_with_plan(series, [])[0]
    assert len({c.interval_s for c in merged}) == 2, "two timeframes merged"
    skipped: list[int] = []
    real = replay.advance_flat

    def counting(node, candles, plan, i, j):
        skipped.append(j - i)
        return real(node, candles, plan, i, j)

    monkeypatch.setattr(replay, "advance_flat", counting)
    flat = dataclasses.replace(window, skip_flat=False)
    one = run_backtest(cfg, tmp_path / "one", flat, series=dict(series))
    assert skipped == []
    bulk = run_backtest(cfg, tmp_path / "bulk", window, series=dict(series))
    assert sum(skipped) >= one.summary.events - 2
    assert len(one.curve) > 5
    assert _figures(bulk) == _figures(one)


def test_the_merge_says_whether_close_times_are_in_order(data_dir, tmp_path):
    """Ties and a single candle are in order; a coarser bar among finer bars of another pair
    is merged at its close, after them: in order too."""
    from tradeguard.backtest.frames import load_series, resample
    from tradeguard.model.market import Candle

    def plan_of(series):
        plan = merge_with_plan(series, [])[1]  # no strategy: every row may be skipped
        assert plan is not None
        return plan

    one = Candle("A", 0, *[1] * 5, 60)
    assert plan_of({"A": [one]}).ordered
    tie = dataclasses.replace(one, symbol="B")
    both = plan_of({"A": [one], "B": [tie]})
    assert both.ordered and both.close_ts == [60_000, 60_000] and both.symbols == 2
    cfg = load_config(write_config(tmp_path, pairs=("ETH", "ADA")))
    window = _window()
    series = load_series(cfg, window.start_ms, window.end_ms, None)
    assert plan_of(series).ordered, "one timeframe"
    coarse = next(s for s in series if s.startswith("ADA"))
    series[coarse] = resample(series[coarse], 3_600, coarse)
    plan = plan_of(series)
    # was out of order: an hour's bar merged at its open, before the finer bars within it
    assert plan.ordered, "an hour's bar comes after the finer bars within it"
    assert plan.close_ts == sorted(plan.close_ts)
    merged = merge_with_plan(series, [])[0]
    first_hour = next(i for i, c in enumerate(merged) if c.interval_s == 3_600)
    assert merged[first_hour].close_ts == merged[first_hour - 1].close_ts  # its last 5m bar's
