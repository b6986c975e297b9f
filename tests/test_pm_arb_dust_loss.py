"""Dust (contracts too few for any order the venue takes) left after an unwind, or after a held
leg shrinks to what the venue holds, is valued at zero until its market settles: its cost is
realised as a loss at once, in the record's actual profit and the day's realised loss that
`daily_loss_usd` limits. It was left out: 3 contracts of 10 bought at 0.55 cost 1.66 USD (with
the fee) no daily figure counted."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_executor import PM_NO, _setup
from test_pm_arb_held_retry import _held
from test_pm_arb_held_shrink_rules import _venue_holds
from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol
from tradeguard.strategies.cross_venue.held_sync import shrink_held
from tradeguard.strategies.cross_venue.limits import PairLimits, check_limits

D = Decimal


def _five_at_least(venue: str, step: Decimal):
    def instrument(symbol: str):
        market, outcome, quote = parse_outcome_symbol(symbol)
        return outcome_instrument(venue, market, Outcome(outcome), quote, D("0.01"), step, D(5),
                                  D("0.07"))  # fmt: skip

    return instrument


async def test_dust_left_by_an_unwind_is_realised_at_zero_in_the_days_loss() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )
    pm.instrument = _five_at_least("pm", D("0.01"))  # type: ignore[method-assign]
    k.refuse.add("KXFED:YES/USD")  # the second leg fails
    pm.bids[PM_NO] = [(D("0.53"), D(7))]  # the unwind sells 7 of the 10 bought: 3 are dust
    rec = await executor.execute(opp)
    assert rec.outcome == "unwound" and rec.dust == {PM_NO: D(3)}, rec
    first, unwind = rec.legs[0], rec.legs[-1]
    cost = -first.cash  # 10 contracts and the fee paid on them
    # the whole cost of the 10 against what the 7 sold for: the 3 left count nothing
    assert rec.actual_profit == unwind.cash - cost
    assert executor.book.realised_today == rec.actual_profit
    dust_cost = cost * 3 / 10
    assert rec.actual_profit == (unwind.cash - cost * 7 / 10) - dust_cost
    # the limit sees it: a daily loss limit between the sale's loss and the whole one denies
    limits = PairLimits(daily_loss_usd=-(unwind.cash - cost * 7 / 10) + dust_cost / 2)
    verdict = check_limits(limits, executor.book, opp, rec.ts)
    assert verdict.code == "DAILY_LOSS" and "daily_loss_usd" in verdict.reason, verdict


async def test_dust_left_by_a_shrunk_held_leg_is_realised_at_zero() -> None:
    executor, k, _pm = await _held()
    k.instrument = _five_at_least("k", D(1))  # type: ignore[method-assign]
    [pair] = executor.book.open
    before = executor.book.realised_today
    [rec] = shrink_held(executor, "k", _venue_holds(D(3)))  # 7 of 10 sold by hand, 3 left
    assert rec.dust and executor.book.open == []
    written_off = pair.capital * 3 / pair.contracts
    assert rec.actual_profit == -written_off
    assert executor.book.realised_today == before - written_off
