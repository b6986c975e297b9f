"""A settlement counted before a kill that lost the strategy's checkpoint is settled again at the
next start from the checkpointed book; its `arb.settled` event (a critical alert on a mismatch)
was published the first time and is not published again."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_settle_check import K_NO, PM_YES, holding_strategy, settle_fill
from tradeguard.strategies.base import create
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

D = Decimal


def test_a_settlement_seen_before_a_kill_is_not_published_again() -> None:
    strat, ctx = holding_strategy()
    checkpointed = strat.state()  # the pair held: the last checkpoint before the kill
    strat.on_fill(settle_fill("polymarket", PM_YES, "0"))
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))  # both legs lose: a mismatch
    (first,) = strat.check_settlements()
    gateway = ctx.gateways["polymarket"]
    assert gateway.events == [first] and first.severity == "critical"
    # killed here; the next start restores the checkpoint and learns both resolutions again
    again = create("cross_venue", "pmarb", "polymarket", "", strat.params)
    assert isinstance(again, CrossVenueStrategy)
    again.bind(ctx)  # the same engine state: it committed the settlement before the kill
    again.restore(checkpointed)
    again.on_fill(settle_fill("polymarket", PM_YES, "0"))
    again.on_fill(settle_fill("kalshi", K_NO, "0"))
    (second,) = again.check_settlements()
    assert again.book.open == [] and second.data["pnl"] == "-9.40"
    assert gateway.events == [first]  # one alert for one settlement
    assert len(gateway.settled) == 1


def _cycles():
    from tradeguard.portfolio.arb_summary import ArbSummary

    summary = ArbSummary()
    summary.add({"outcome": "completed", "start_asset": "USD", "actual_profit": "0.60"})
    summary.add({"outcome": "held", "start_asset": "USD", "actual_profit": "0", "ts": 1})
    return summary


def test_a_settlement_changes_its_cycles_trade_in_the_figures_and_survives_a_restart() -> None:
    def usd(asset: str) -> Decimal:
        return D(1)

    summary = _cycles()
    t = summary.trade_totals(usd, None)
    assert (t.trades, t.wins, t.pnl) == (2, 1, D("0.60"))  # the pair counted at 1 per pair
    summary.settle(D("0.60"), D("-9.40"))  # it paid nothing: the win is a loss
    summary.settle(D(0), D("5.83"))  # a lone leg, counted at its cost, paid 1 a contract
    again = _cycles()  # a restart: the records read again, the settlements from their commit
    again.restore_settled(summary.settled_json())
    for s in (summary, again):
        t = s.trade_totals(usd, None)
        assert (t.trades, t.wins, t.pnl) == (2, 1, D("-3.57")), t
