"""Cross-venue sizing: a pair is never opened at a size whose first leg could not be sold back
within max_unwind_loss_usd at the book it was planned on (both fees plus the first leg's spread).

Against both local servers (the real Polymarket client against our CLOB, our Kalshi sandbox) with
the `arb-fail` scenario: the second leg's liquidity is pulled as it arrives, so every attempt
needs its unwind."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_node import run_with_scenario
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenarioConfig

CAP = Decimal(5)


async def test_arb_fail_trims_the_size_so_the_lone_leg_unwinds_within_the_cap(
    tmp_path, monkeypatch
):
    strat, events, node = await run_with_scenario(
        tmp_path, monkeypatch, ArbScenarioConfig.named("arb-fail")
    )
    rec = strat.attempts[0]
    first = rec.legs[0]
    # Kalshi NO at 0.56, bid 0.54: 500 contracts would lose 500 x 0.02 plus both fees, far
    # beyond 5 USD, so the leg was held; 91 contracts lose 91 x 0.02 + 1.57 + 1.59 = 4.98 USD
    assert first.venue == "kalshi" and first.filled == 91, rec.reason  # was 500
    assert rec.contracts == first.filled
    assert rec.outcome == "unwound", rec.reason  # was held at 207 contracts
    assert rec.legs[-1].role == "unwind" and rec.legs[-1].filled == first.filled
    assert rec.actual_profit == Decimal("-4.98") and -rec.actual_profit <= CAP
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
    assert not [e for e in events if e.kind == EventKind.ARB_HELD]
    assert strat.book.open == []


async def test_a_cap_no_size_fits_skips_the_pair_before_either_leg(tmp_path, monkeypatch):
    strat, events, node = await run_with_scenario(
        tmp_path,
        monkeypatch,
        ArbScenarioConfig.named("arb-fail"),
        exec={"max_unwind_loss_usd": "0.05"},  # one contract: 0.02 spread + 0.02 + 0.02 fees
    )
    rec = strat.attempts[0]
    assert rec.outcome == "rejected" and rec.code == "PAIR_UNWIND", rec.reason
    assert "max_unwind_loss_usd=0.05" in rec.reason and "one 0.06 USD" in rec.reason
    assert rec.legs == []
    assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
    assert not [e for e in events if e.kind == EventKind.ARB_HELD]
