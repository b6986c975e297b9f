"""Win rate, Sharpe, profit factor and drawdown match hand-computed figures."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from tradeguard.portfolio.analytics import (
    drawdowns,
    max_drawdown_pct,
    performance,
    profit_factor,
    returns_of,
    sharpe,
    win_rate,
)


def test_win_rate_counts_only_positive_trades_as_wins():
    assert win_rate([10, -5, 7, -2]) == 0.5
    assert win_rate([Decimal("1.5"), Decimal(0), Decimal("-1")]) == pytest.approx(1 / 3)
    assert win_rate([]) is None


def test_profit_factor_is_gross_profit_over_gross_loss():
    # (10 + 7) / (5 + 2) = 17 / 7
    assert profit_factor([10, -5, 7, -2]) == pytest.approx(2.4285714285714284)
    assert profit_factor([3, 4]) == math.inf
    assert profit_factor([-3]) == 0.0
    assert profit_factor([]) is None


def test_sharpe_is_mean_over_sample_deviation_and_annualises_by_root_periods():
    # mean 0.0066667, sample sd sqrt(0.00126667 / 2) = 0.0251661 -> 0.264906
    assert sharpe([0.01, -0.02, 0.03]) == pytest.approx(0.264906, rel=1e-5)
    assert sharpe([0.01, -0.02, 0.03], periods_per_year=252) == pytest.approx(
        0.264906 * math.sqrt(252), rel=1e-5
    )
    assert sharpe([0.01]) is None
    assert sharpe([0.01, 0.01, 0.01]) is None


def test_drawdown_is_measured_from_the_running_peak():
    curve = [100, 110, 99, 121, Decimal("108.9")]
    assert drawdowns(curve) == pytest.approx([0, 0, 10, 0, 10])
    assert max_drawdown_pct(curve) == pytest.approx(10)
    assert max_drawdown_pct([]) == 0.0
    assert returns_of([100, 110, 99]) == pytest.approx([0.1, -0.1])


def test_performance_summarises_closed_trades_for_the_dashboard():
    perf = performance(
        [Decimal(10), Decimal(-5), Decimal(7), Decimal(-2)],
        [Decimal("1"), Decimal("-0.5"), Decimal("0.7"), Decimal("-0.2")],
    )
    out = perf.to_json()
    assert out["trades"] == 4 and out["wins"] == 2 and out["losses"] == 2
    assert out["win_rate"] == 0.5
    assert out["total_pnl"] == "10" and out["avg_pnl"] == "2.5"  # money stays exact
    exact = performance([Decimal("0.1"), Decimal("0.2")])
    assert exact.total_pnl == Decimal("0.3") and exact.to_json()["total_pnl"] == "0.3"
    # per-trade returns 1, -0.5, 0.7, -0.2: mean 0.25, sample sd 0.7141428 -> 0.350070
    assert out["sharpe"] == pytest.approx(0.350070, rel=1e-5)
    assert performance([1, 2]).to_json()["profit_factor"] == "inf"
