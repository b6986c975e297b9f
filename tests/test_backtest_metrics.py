"""Backtest metrics against cases computed by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from tradeguard.backtest.metrics import (
    DAY_MS,
    TradeRecord,
    cagr,
    compute_metrics,
    daily_returns,
    exposure,
    max_drawdown_pct,
    sharpe_ratio,
    sortino_ratio,
    trade_table,
)

T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC


def trade(symbol: str, entry_h: float, exit_h: float, pnl: str, reason: str, fee: str = "0.1"):
    return TradeRecord(
        symbol=symbol, strategy_id="s", side="long",
        entry_ts=T0 + int(entry_h * 3_600_000), exit_ts=T0 + int(exit_h * 3_600_000),
        entry_price=Decimal(100), exit_price=Decimal(101), amount=Decimal(1),
        pnl=Decimal(pnl), pnl_pct=Decimal(pnl), fees=Decimal(fee),
        entry_reason="cross", exit_reason=reason,
    )  # fmt: skip


def test_daily_returns_take_each_days_last_equity_against_the_day_before():
    curve = [(T0 + 3_600_000, 105.0), (T0 + 20 * 3_600_000, 110.0), (T0 + DAY_MS + 1, 99.0)]
    assert daily_returns(curve, 100.0) == pytest.approx([0.10, 99 / 110 - 1])


def test_sharpe_is_mean_over_sample_stdev_times_root_365():
    returns = [0.01, -0.01, 0.02, 0.0]
    # mean 0.005; sample variance (0.005²+0.015²+0.015²+0.005²)/3 = 0.0005/3
    expected = 0.005 / math.sqrt(0.0005 / 3) * math.sqrt(365)
    assert sharpe_ratio(returns) == pytest.approx(expected)
    assert sharpe_ratio([0.01, 0.01]) is None  # no variation: undefined
    assert sharpe_ratio([0.01]) is None


def test_sortino_divides_by_downside_deviation_over_every_day():
    returns = [0.02, -0.01, 0.03, -0.02]
    downside = math.sqrt((0.01**2 + 0.02**2) / 4)
    assert sortino_ratio(returns) == pytest.approx(0.005 / downside * math.sqrt(365))
    assert sortino_ratio([0.01, 0.02]) is None  # no losing day


def test_cagr_compounds_over_a_365_day_year():
    assert cagr(100, 121, 2 * 365 * DAY_MS) == pytest.approx(0.10)
    assert cagr(100, 110, 0) is None


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak():
    curve = [(i, v) for i, v in enumerate([100.0, 120.0, 90.0, 130.0, 117.0])]
    assert max_drawdown_pct(curve) == pytest.approx(25.0)  # 120 -> 90


def test_exposure_counts_overlapping_trades_once():
    trades = [trade("A", 0, 2, "1", "tp"), trade("B", 1, 3, "1", "tp"), trade("A", 5, 6, "1", "x")]
    # covered hours: [0, 3] and [5, 6] = 4 of 10
    assert exposure(trades, T0, T0 + 10 * 3_600_000) == pytest.approx(0.4)


def test_exposure_counts_positions_still_open_at_the_end():
    trades = [trade("A", 0, 2, "1", "tp")]
    # closed: hours [0, 2]; open at 7 h until the end (10 h): [7, 10]; 5 of 10 hours
    assert exposure(trades, T0, T0 + 10 * 3_600_000, open_since=[T0 + 7 * 3_600_000]) == (
        pytest.approx(0.5)
    )
    # an open position overlapping a closed trade counts once: [0, 2] and [1, 10] = 10 of 10
    assert exposure(trades, T0, T0 + 10 * 3_600_000, open_since=[T0 + 3_600_000]) == 1.0
    # opened before the window starts: counted from the start only
    assert exposure([], T0, T0 + 10 * 3_600_000, open_since=[T0 - 3_600_000]) == 1.0


def test_compute_metrics_exposure_includes_the_open_position():
    curve = [(T0 + h * 3_600_000, 100.0) for h in range(11)]  # 10 hours
    m = compute_metrics(curve, [], 100.0, open_since=[T0 + 6 * 3_600_000])
    assert m["exposure_pct"] == pytest.approx(40.0)
    assert compute_metrics(curve, [], 100.0)["exposure_pct"] == 0.0


def test_trade_table_win_rate_profit_factor_expectancy_and_durations():
    trades = [
        trade("A", 0, 1, "10", "take_profit"),
        trade("A", 2, 5, "-5", "stop_loss"),
        trade("B", 3, 5, "7", "take_profit"),
    ]
    t = trade_table(trades)
    assert t["trades"] == 3 and t["wins"] == 2 and t["losses"] == 1
    assert t["win_rate"] == pytest.approx(2 / 3)
    assert t["profit_factor"] == pytest.approx(17 / 5)
    assert t["expectancy"] == pytest.approx(4.0)
    assert t["avg_duration_s"] == pytest.approx((3600 + 3 * 3600 + 2 * 3600) / 3)
    assert t["median_duration_s"] == pytest.approx(2 * 3600)
    assert t["fees"] == pytest.approx(0.3)


def test_compute_metrics_groups_by_pair_and_exit_reason_and_ratios_follow():
    curve = [(T0 + d * DAY_MS, v) for d, v in enumerate([100.0, 110.0, 99.0, 120.0])]
    trades = [trade("A", 0, 30, "10", "take_profit"), trade("B", 30, 50, "-11", "stop_loss")]
    m = compute_metrics(curve, trades, start_equity=100.0)
    assert m["total_return_pct"] == pytest.approx(20.0)
    assert m["max_drawdown_pct"] == pytest.approx(10.0)  # 110 -> 99
    years = 3 / 365
    assert m["cagr_pct"] == pytest.approx((1.2 ** (1 / years) - 1) * 100)
    assert m["calmar"] == pytest.approx(m["cagr_pct"] / 100 / 0.10)
    assert m["win_rate_pct"] == pytest.approx(50.0)
    assert set(m["per_pair"]) == {"A", "B"}
    assert m["per_exit_reason"]["stop_loss"]["net_pnl"] == pytest.approx(-11.0)
    assert m["exposure_pct"] == pytest.approx(50 / 72 * 100)
    assert "win_rate" not in m


def _drawdown_of_every_point(curve: list[tuple[int, float]]) -> float:
    """The definition: the equity tracker observing every point of the curve."""
    from tradeguard.portfolio.equity import EquityTracker

    tracker = EquityTracker()
    for _, equity in curve:
        tracker.observe(Decimal(repr(equity)))
    return float(tracker.max_drawdown_pct)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 1.0, 0.9, 0.9, 0.95, 0.9, 0.85, 1.0, 1.2, 1.2, 0.6, 0.7, 0.6, 0.59, 1.3],
        [1.0, 1.0, 1.0],  # flat: no drawdown
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # down to zero
        [0.0, -1.0, -0.5, -2.0, 0.0, -0.0, 1.0, 0.5],  # a peak at or below zero measures nothing
        [1.0, 0.97625160681992, 0.9762516068199201, 0.97625160681992, 1.0000000000000002, 0.99],
    ],
)
def test_max_drawdown_matches_the_tracker_observing_every_point(values):
    curve = [(T0 + i * 300_000, v) for i, v in enumerate(values)]
    assert max_drawdown_pct(curve) == _drawdown_of_every_point(curve)


def test_max_drawdown_matches_the_tracker_on_a_long_random_walk():
    import random

    rng = random.Random(7)
    equity, curve = 1.0, []
    for i in range(5_000):
        # plateaus (a flat book), small and large moves, new peaks and new lows
        equity = equity if rng.random() < 0.3 else equity * (1 + rng.gauss(0, 0.004))
        curve.append((T0 + i * 300_000, equity))
    assert max_drawdown_pct(curve) == _drawdown_of_every_point(curve)
    assert max_drawdown_pct(curve) > 0
