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
