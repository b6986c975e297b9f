"""A backtest's window `[--from, --to)` holds the candles that open at or after --from and close
by --to: a candle opening before --to but closing after it carries prices from after the end
(a 5m bar opening 05:00 closes 05:05, past --to 05:02) and took the run's period past --to."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from tradeguard.backtest.frames import cut, load_series, parse_date
from tradeguard.config import load_config
from tradeguard.marketdata.loaders import load_candles
from tradeguard.model.market import Candle

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "backtest" / "btc_pairs.toml"
MIN = 60_000
IDLE = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_strategies.py:Idle"


def _bar(ts: int, span_s: int) -> Candle:
    one = Decimal(1)
    return Candle("X/Y", ts, one, one, one, one, one, span_s)


def test_the_window_ends_with_the_last_candle_closing_by_its_end() -> None:
    t = 1_640_995_200_000
    bars = [_bar(t + i * 5 * MIN, 300) for i in range(10)]
    end = t + 22 * MIN  # within the bar of 00:20-00:25
    kept = cut(bars, t, end)
    assert kept == bars[:4]  # 00:00 .. 00:15, the last closing at 00:20 (was also 00:20's)
    assert cut(bars, t, t + 20 * MIN) == bars[:4]  # a bound on a close: that bar is in
    assert cut(bars, t, None) == bars


def test_a_file_of_two_spans_loses_only_the_bars_closing_after_the_end() -> None:
    t = 1_640_995_200_000
    hour = _bar(t, 3600)  # 00:00-01:00, filed before the minutes within it
    minutes = [_bar(t + i * MIN, 60) for i in range(1, 40)]
    kept = cut([hour, *minutes], t, t + 30 * MIN)
    assert kept == minutes[:29]  # 00:01 .. 00:29; the hour closing at 01:00 left out


def test_a_backtest_window_ending_within_a_candle_leaves_it_out(tmp_path) -> None:
    cfg = load_config(EXAMPLE)
    start = 1_515_564_000_000  # 2018-01-10 06:00 UTC
    end = start + 62 * MIN  # within the 5m bar of 07:00-07:05
    series = load_series(cfg, start, end, None)
    for symbol, candles in series.items():
        assert candles, symbol
        assert max(c.close_ts for c in candles) <= end, symbol
        assert candles[-1].ts == start + 55 * MIN, symbol
    eth = load_candles(_data(cfg))
    assert any(c.ts == start + 60 * MIN for c in eth)  # the bar left out is in the file


def _data(cfg) -> Path:
    from tradeguard.node import resolve_data_path

    return resolve_data_path(cfg.data[0].path, cfg.source_dir)


def test_a_timeframe_bar_reaching_past_the_end_is_left_out(tmp_path) -> None:
    # --to 07:30 with --timeframe 1h: the hour of 07:00 built from its first half closed at
    # 08:00, half an hour past the end
    cfg = load_config(EXAMPLE)
    start = 1_515_564_000_000  # 2018-01-10 06:00 UTC
    end = start + 90 * MIN
    series = load_series(cfg, start, end, 3600)
    for symbol, candles in series.items():
        assert [c.ts for c in candles] == [start], symbol
        assert candles[-1].close_ts <= end


def test_a_timeframe_bar_opening_before_the_start_is_left_out(tmp_path) -> None:
    # --from 06:30 with --timeframe 1h: the hour of 06:00, built from its second half, opened
    # half an hour before the start
    cfg = load_config(EXAMPLE)
    start = 1_515_564_000_000 + 30 * MIN  # 2018-01-10 06:30 UTC
    series = load_series(cfg, start, start + 150 * MIN, 3600)
    for symbol, candles in series.items():
        assert [c.ts for c in candles] == [start + 30 * MIN, start + 90 * MIN], symbol


def test_a_window_holding_no_candle_of_one_pair_runs_the_others(tmp_path, data_dir, capsys):
    """ADA/BTC's file starting after --to: the window holds ETH/BTC's candles alone, and the
    backtest runs them (it was a traceback: IndexError in the series check)."""
    import pandas as pd

    from backtest_support import write_config
    from cli_support import run_cli

    ada = pd.read_feather(data_dir / "candles" / "ADA_BTC-5m.feather")
    late = tmp_path / "ADA_BTC-late.feather"
    ada[ada.date >= pd.Timestamp("2018-01-20", tz="UTC")].reset_index(drop=True).to_feather(late)
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8").replace('"candles/ADA_BTC-5m.feather"', f'"{late}"')
    text = re.sub(r'kind = "[^"]*:EmaCross"', f'kind = "{IDLE}"', text)
    path.write_text(text, encoding="utf-8")
    out, end = tmp_path / "run", parse_date("2018-01-12T06:00")
    done = run_cli(
        capsys, "backtest", "--config", str(path), "--from", "2018-01-12",
        "--to", "2018-01-12T06:00", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["candles"] == 72  # ETH/BTC's six hours of 5m candles
    assert (metrics["first_ts"], metrics["last_ts"]) == (parse_date("2018-01-12"), end)
