"""Provisional equity (a venue's holdings at another venue's price until its own quotes arrive)
is recorded nowhere as if it were real: not as the run's start or peak, not in the equity curve,
not as the day's opening equity; the first figure the breakers act on is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode

D = Decimal
T0 = 1_700_006_400_000  # 00:00 UTC


def _node(tmp_path: Path, stale_s: int = 60) -> TradingNode:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cfg = Config.model_validate(
        {"mode": "backtest", "node": {"database_url": url}, "risk": {"stale_data_s": stale_s}}
    )
    node = TradingNode(cfg)
    node.clock.advance_to(T0)  # type: ignore[attr-defined]
    p = node.portfolio
    p.set_balances("a", [Balance("a", "USDT", D(50_000))])
    p.set_balances("b", [Balance("b", "BTC", D(1))])
    p.mark("BTC/USDT", D(90_000), "a")  # b has no quote of its own yet: a's price stands in
    return node


def test_provisional_equity_sets_no_run_peak_curve_sample_or_day_start(tmp_path: Path) -> None:
    node = _node(tmp_path)
    node._observe_equity(T0, "BTC/USDT")
    assert node.portfolio.provisional() is not None
    assert node.run_equity.peak is None and node.run_equity.start is None
    assert list(node.equity_curve) == []
    assert node._day is None  # the day opens at its first real figure
    node.portfolio.mark("BTC/USDT", D(50_000), "b")  # b's own quote: its BTC is worth 50,000
    node.clock.advance_to(T0 + 1000)  # type: ignore[attr-defined]
    node._observe_equity(T0 + 1000, "BTC/USDT")
    assert node.portfolio.provisional() is None
    assert (node.run_equity.start, node.run_equity.peak) == (D(100_000), D(100_000))
    assert list(node.equity_curve) == [(T0 + 1000, D(100_000))]
    assert node._day_start_equity == D(100_000)
    figures = node.figures()
    assert (figures.start_equity, figures.peak_equity) == (D(100_000), D(100_000))
    assert figures.max_drawdown_pct == 0


def test_a_figure_held_past_stale_data_s_is_recorded_as_the_breakers_act_on_it(
    tmp_path: Path,
) -> None:
    node = _node(tmp_path, stale_s=30)
    node._observe_equity(T0, "BTC/USDT")
    assert node.run_equity.peak is None
    node.clock.advance_to(T0 + 31_000)  # type: ignore[attr-defined]
    node._observe_equity(T0 + 31_000)  # nothing moved, but b never quoted: acted on now
    assert node.run_equity.peak == D(140_000)
    assert list(node.equity_curve) == [(T0 + 31_000, D(140_000))]
    assert node._day_start_equity == D(140_000)


def test_figures_held_provisional_report_no_gain_from_a_zero_start(tmp_path: Path) -> None:
    # No start recorded yet (the figure is held): the run has made nothing, not its whole
    # equity, in the figures the API, the metrics and the run summary read.
    node = _node(tmp_path)
    node._observe_equity(T0, "BTC/USDT")
    assert node.run_equity.start is None
    figures = node.figures()
    assert figures.equity == D(140_000)
    assert figures.total_pnl == 0, figures.to_json()
    assert figures.drawdown_pct == 0
    summary = node.summary(0.0)
    assert summary.total_pnl == 0, summary.to_json()
