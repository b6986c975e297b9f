"""Figures people read are plain decimals: never 9.771e-05 or 1.23457e+06."""

from __future__ import annotations

import re
from decimal import Decimal as D

from rich.console import Console

from tradeguard.backtest.compare import compare_table
from tradeguard.backtest.metrics import TradeRecord
from tradeguard.backtest.report import fmt, render_report
from tradeguard.backtest.svg import tick_text
from tradeguard.cli.arb import _size
from tradeguard.cli.backtest import print_metrics
from tradeguard.cli.common import figure, money

EXPONENT = re.compile(r"\d[eE][+-]?\d")
TINY, HUGE = -9.771e-05, 1.234e22


def test_money_and_figure_never_print_an_exponent():
    assert money(D("1E-7"), 10) == "0.0000001000"
    assert figure(D("0.0000001234")) == "0.0000001234"
    assert figure(TINY) == "-0.00009771"
    assert figure(D("-1E-15")) == "0.00"  # below the places shown: zero, unsigned
    assert figure(D("1.234E+22")) == "12,340,000,000,000,000,000,000.00"


def test_backtest_table_figures_tiny_and_huge():
    assert fmt(TINY) == "-0.00009771"
    assert fmt(HUGE) == "12,340,000,000,000,000,000,000"
    assert fmt(D("1E-7")) == "0.0000001"
    assert fmt(0.005) == "0.005" and fmt(1.23456) == "1.2346" and fmt(2_500_000.4) == "2,500,000"


def test_chart_ticks_and_arb_sizes_keep_their_significant_digits_in_plain_decimals():
    assert [tick_text(v) for v in (5.34e-05, 1234567.0, 0.0, 100.0)] == [
        "0.0000534", "1234570", "0", "100",
    ]  # fmt: skip
    assert _size(D("0.00000001234")) == "0.00000001234"
    assert _size(D("1.5E+3")) == "1500" and _size(D("0")) == "0"


def _metrics() -> dict[str, object]:
    group = {"trades": 3, "win_rate": 0.0000333, "profit_factor": HUGE, "expectancy": TINY,
             "net_pnl": TINY, "fees": 1.2e-07}  # fmt: skip
    return {"start_equity": 1.0, "total_return_pct": TINY, "sharpe": HUGE, "fees": 1.2e-07,
            "expectancy": TINY, "end_equity": HUGE, "per_pair": {"ADA/BTC": group},
            "per_exit_reason": {"signal": group}}  # fmt: skip


def test_the_backtest_report_compare_table_and_cli_metrics_print_no_exponent():
    trade = TradeRecord("ADA/BTC", "s", "long", 0, 86_400_000, D("5.34E-8"), D("5.5E-8"),
                        D("1E+4"), D("1.6E-7"), D("3.0"), D("1E-9"), "rsi", "signal")  # fmt: skip
    curve = [(0, 1.0), (86_400_000, 1.0000001)]
    html = render_report("t", _metrics(), [trade], curve, {})
    assert "<td>0.0000000534</td>" in html and "-0.00009771" in html
    shown = re.sub(r'<style>.*?</style>|[a-z-]+="[^"]*"', "", html, flags=re.S)  # #e5e7eb
    assert not EXPONENT.search(shown)
    rows = compare_table([("a", _metrics(), [])])
    assert dict(rows)["total_return_pct"] == "-0.00009771"
    assert not any(EXPONENT.search(cell) for row in rows for cell in row)
    console = Console(record=True, width=120)
    print_metrics(console, _metrics(), "runs/x")
    shown = console.export_text()
    assert "-0.00009771" in shown and "12,340,000,000,000,000,000,000" in shown
    assert not EXPONENT.search(shown)
