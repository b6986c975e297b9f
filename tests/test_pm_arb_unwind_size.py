"""Cross-venue sizing: a pair is never opened at a size whose first leg could not be sold back
within max_unwind_loss_usd at the book it was planned on (both fees plus the first leg's spread).

Against both local servers (the real Polymarket client against our CLOB, our Kalshi sandbox) with
the `arb-fail` scenario: the second leg's liquidity is pulled as it arrives, so every attempt
needs its unwind."""

from __future__ import annotations

import io
from decimal import Decimal

from test_pm_arb_node import run_with_scenario
from tradeguard.api.routes.pm_arb import attempt_json
from tradeguard.cli.pm_arb_run import print_attempts
from tradeguard.model.enums import Side
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenarioConfig
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.scanner import LegPlan
from tradeguard.strategies.cross_venue.unwind_size import planned_unwind_loss, unwind_size

CAP = Decimal(5)
D = Decimal


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
    # the trim is recorded and shown, not only logged: the record, its event, the API, `pm arb`
    trim = rec.to_json()["trimmed"]
    assert (trim["from"], trim["to"], trim["max_unwind_loss_usd"]) == ("500", "91", "5"), trim
    assert Decimal(trim["planned_loss_usd"]) > CAP
    [row] = load_arb_executions(node.storage, strategy_id=strat.id)
    assert attempt_json(row)["trimmed"] == trim
    [event] = [e for e in events if e.kind == EventKind.ARB_EXECUTION]
    assert event.data["trimmed"] == trim
    assert "trimmed from 500 to 91 contracts" in event.data["message"], event.data["message"]
    out = io.StringIO()
    print_attempts([rec.to_json()], out)
    assert "trimmed from 500 to 91 contracts (max_unwind_loss_usd=5" in out.getvalue(), out


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


class _Bids:
    """A venue's read side: the bids a sale takes and the instrument's rules (none known)."""

    def __init__(self, bids: list | None) -> None:
        self.bids = bids

    def levels(self, symbol: str, side: Side) -> list | None:
        assert side is Side.SELL
        return self.bids

    def instrument(self, symbol: str) -> None:
        return None


def _plan(n: int) -> LegPlan:
    return LegPlan("kalshi", "K:NO/USD", D(n), D("0.56"), D("0.56") * n, D(0), D(n))


def test_the_size_is_the_most_contracts_whose_planned_unwind_fits_the_cap() -> None:
    fees = FeeModel.default("kalshi")
    bids = [(D("0.54"), D(1000))]
    assert planned_unwind_loss(fees, _plan(91), bids, D(91)) == D("4.98")
    assert planned_unwind_loss(fees, _plan(92), bids, D(92)) == D("5.03")  # one more: beyond
    assert unwind_size(_Bids(bids), fees, _plan(500), D(500), D(5)) == (D(91), "")  # type: ignore[arg-type]
    # bids thinner than the size: what they cannot take counts as sold at 0
    thin = [(D("0.54"), D(5))]
    # 6 x 0.56 + fee 0.11 - (5 x 0.54 - fee 0.09)
    assert planned_unwind_loss(fees, _plan(6), thin, D(6)) == D("0.86")
    size, why = unwind_size(_Bids(bids), fees, _plan(500), D(500), D("0.05"))  # type: ignore[arg-type]
    assert size == 0 and "max_unwind_loss_usd=0.05" in why and "one 0.06 USD" in why


def test_a_venue_showing_no_book_plans_the_whole_stake_as_the_unwind_loss() -> None:
    # a sale back into no bids is worth 0: the stake and its fee are lost, not the fees alone
    fees = FeeModel.default("kalshi")
    for bids in (None, []):
        assert planned_unwind_loss(fees, _plan(10), bids, D(10)) == D("5.60") + D("0.18")
        # 8 x 0.56 + fee 0.14 = 4.62 fits 5 USD; 9 x 0.56 + fee 0.16 = 5.20 does not
        assert unwind_size(_Bids(bids), fees, _plan(500), D(500), D(5)) == (D(8), "")  # type: ignore[arg-type]


def test_a_refusal_with_no_bids_says_the_stake_is_the_loss_not_the_spread() -> None:
    # nothing to sell back into: the loss named is the stake and its fee, no spread or book
    fees = FeeModel.default("kalshi")
    for bids in (None, []):
        size, why = unwind_size(_Bids(bids), fees, _plan(500), D(500), D("0.5"))  # type: ignore[arg-type]
        assert size == 0 and "one 0.58 USD" in why, why
        assert "spread" not in why and "no bids to sell back into" in why, why
    size, why = unwind_size(_Bids([(D("0.54"), D(9))]), fees, _plan(500), D(500), D("0.05"))  # type: ignore[arg-type]
    assert size == 0 and "spread at the book" in why, why
