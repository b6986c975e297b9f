"""A run's period is from the earliest open time of its candles to the latest close time, the
same in the run summary and the backtest metrics (whose CAGR is over it), however the
timeframes mix. Replayed by close time, the first candle may open after a coarser one, and the
last may open before a finer one: the period once ran from the first candle's open to the last
one's open (a 1m series and a 1h one: from 00:05 to 01:00 for candles from 00:00 to 02:00)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_backtest_mixed_timeframes import FIVE_M, HOUR, T0, _bar, _config
from tradeguard.backtest import replay
from tradeguard.backtest.metrics import cagr
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.config import load_config

MIN = 60_000
BENCH_STRATEGIES = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest_strategies.py"


def _series() -> dict[str, list]:
    # ETH 5m bars from 00:05 to 01:55 (the last closing at 02:00), ADA 1h bars at 00:00 and
    # 01:00: replayed by close, ETH's bar of 00:05 comes first, ADA's bar of 01:00 last
    eth = [
        _bar("ETH/BTC", T0 + i * 5 * MIN, "0.1" if i < 20 else "0.11", FIVE_M) for i in range(1, 24)
    ]
    ada = [_bar("ADA/BTC", T0 + i * HOUR * 1000, "0.00003", HOUR) for i in range(2)]
    return {"ETH/BTC": eth, "ADA/BTC": ada}


@pytest.mark.parametrize("order", ["fine first", "coarse first"])
def test_the_period_runs_from_the_earliest_open_to_the_latest_close(tmp_path: Path, order) -> None:
    series = _series()
    if order == "coarse first":
        series = dict(reversed(series.items()))
    result = run_backtest(_config(tmp_path), tmp_path / "run", series=series)
    start, end = T0, T0 + 2 * HOUR * 1000
    s, m = result.summary, result.metrics
    assert (s.first_ts, s.last_ts) == (start, end)  # was 00:05 .. 01:00
    assert (m["first_ts"], m["last_ts"]) == (start, end)  # was 00:10 .. 02:00 (curve samples)
    growth = cagr(m["start_equity"], m["end_equity"], end - start)
    assert growth is not None and growth > 0
    assert m["cagr_pct"] == pytest.approx(growth * 100)


@pytest.mark.parametrize("commit_every", [5, 20_000])
def test_a_backtest_skipping_flat_stretches_has_the_same_period(
    tmp_path: Path, monkeypatch, commit_every: int
) -> None:
    # a vectorised strategy that never signals: every candle goes by in flat stretches (cut at
    # each checkpoint), the earliest open coming in a later stretch than the first candle
    _config(tmp_path)  # writes the config file: made vectorised, holding BTC alone
    path = tmp_path / "backtest.toml"
    text = re.sub(
        r'kind = "[^"]*:Idle"', f'kind = "{BENCH_STRATEGIES}:IdleVector"', path.read_text()
    )
    text = text.replace('balances = { BTC = "1", ETH = "1" }', 'balances = { BTC = "1" }')  # flat
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    stretches: list[int] = []
    real = replay.advance_flat

    def counting(node, candles, plan, i, j):
        stretches.append(j - i)
        return real(node, candles, plan, i, j)

    monkeypatch.setattr(replay, "advance_flat", counting)
    window = BacktestWindow(commit_every=commit_every)
    result = run_backtest(cfg, tmp_path / "run", window, series=_series())
    assert sum(stretches) >= 24 and (len(stretches) > 1) is (commit_every == 5)  # all but one
    s, m = result.summary, result.metrics
    assert (s.first_ts, s.last_ts) == (T0, T0 + 2 * HOUR * 1000)
    assert (m["first_ts"], m["last_ts"]) == (T0, T0 + 2 * HOUR * 1000)
