"""The rules of shrinking held lone legs to what a venue holds, on the executor itself: complete
pairs are never shrunk, lone legs never below zero and the newest first, nothing while an
attempt or a retry holds the executor, and a retry read before a shrink sends nothing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from test_pm_arb_executor import K_YES, PM_NO
from test_pm_arb_held_retry import _held, _rows
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind
from tradeguard.strategies.cross_venue.held_sync import shrink_held
from tradeguard.strategies.cross_venue.limits import OpenPair

D = Decimal
K_BASE = K_YES.split("/")[0]


def _venue_holds(n: Decimal):
    return lambda asset: n if asset == K_BASE else D(0)


async def test_complete_pairs_are_never_shrunk_and_lone_legs_never_below_zero() -> None:
    executor, _k, pm = await _held()
    seen = len(pm.observed)
    [lone] = executor.book.open
    complete = OpenPair("other", "ev", 1, D(20), D(19), 0, ("k", "pm"), (K_YES, PM_NO))
    executor.book.open.insert(0, complete)
    # the venue holds 15: less than the complete pair's 20 alone
    [rec] = shrink_held(executor, "k", _venue_holds(D(15)))
    assert executor.book.open == [complete]  # the complete pair as it was, the lone leg gone
    assert rec.outcome == "failed" and rec.held == {} and rec.capital == 0
    assert rec.retry_of == lone.record_id
    assert pm.observed[seen:] == []  # sold outside the strategy: no trade of its own
    assert shrink_held(executor, "k", _venue_holds(D(0))) == []  # nothing lone is left


async def test_the_newest_lone_leg_gives_way_first() -> None:
    executor, _k, _pm = await _held()
    [old] = executor.book.open
    new = dataclasses.replace(old, pair_id="newer", contracts=D(4), capital=D("1.6"))
    executor.book.open.append(new)
    [rec] = shrink_held(executor, "k", _venue_holds(D(11)))  # 14 claimed, 11 held
    assert [(p.pair_id, p.contracts) for p in executor.book.open] == [("fed", D(10)),
                                                                      ("newer", D(1))]  # fmt: skip
    assert rec.pair_id == "newer" and rec.held == {K_YES: D(1)} and rec.capital == D("0.4")
    assert "3 of the 4" in rec.reason and "the venue holds 11 beyond" in rec.reason, rec.reason


async def test_nothing_shrinks_while_the_executor_runs_an_attempt_or_a_retry() -> None:
    executor, _k, _pm = await _held()
    async with executor._lock:  # as an attempt or a retry holds it while its orders move
        assert shrink_held(executor, "k", _venue_holds(D(0))) == []
    assert [p.contracts for p in executor.book.open] == [D(10)]
    assert len(shrink_held(executor, "k", _venue_holds(D(0)))) == 1
    assert executor.book.open == []


async def test_a_retry_read_before_a_shrink_sends_nothing() -> None:
    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    sent = len(k.sent)
    [rec] = shrink_held(executor, "k", _venue_holds(D(6)))
    assert rec.held == {K_YES: D(6)}
    assert "4 of the 10" in rec.reason and "the venue holds 6 beyond" in rec.reason, rec.reason
    assert await retry_unwind(executor, leg, D(2)) is None  # 10 read, 6 held: stale
    assert len(k.sent) == sent
    [now] = held_legs(_rows(pm))  # a new read starts from the shrink's record
    assert now.contracts == D(6) and now.record_id == leg.record_id


async def test_a_retry_after_a_shrink_leaves_no_stale_note() -> None:
    executor, k, pm = await _held()
    shrink_held(executor, "k", _venue_holds(D(6)))
    [pair] = executor.book.open
    assert "now counts 6" in pair.note
    k.bids[K_YES] = [(D("0.30"), D(4))]  # 4 of the 6 find a buyer within the cap
    [leg] = held_legs(_rows(pm))
    rec = await retry_unwind(executor, leg, D(2))
    assert rec is not None and rec.held == {K_YES: D(2)}
    [pair] = executor.book.open
    assert pair.contracts == D(2) and "now counts 6" not in pair.note, pair.note


async def test_a_lone_leg_shrunk_below_the_venues_minimum_order_leaves_the_pair_flat() -> None:
    from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol

    executor, k, pm = await _held()
    seen = len(pm.observed)

    def five_at_least(symbol: str):
        market, outcome, quote = parse_outcome_symbol(symbol)
        return outcome_instrument("k", market, Outcome(outcome), quote, D("0.01"), D(1), D(5),
                                  D("0.07"))  # fmt: skip

    k.instrument = five_at_least  # type: ignore[method-assign]
    [rec] = shrink_held(executor, "k", _venue_holds(D(3)))  # 7 of 10 sold by hand, 3 left
    assert executor.book.open == [] and rec.held == {} and rec.capital == 0
    assert rec.dust == {K_YES: D(3)} and "dust, the pair is flat" in rec.reason, rec.reason
    # the dust's cost is a loss now: in the day's P&L, the losing streak and the cooldown
    assert rec.actual_profit < 0 and executor.book.realised_today <= rec.actual_profit
    assert pm.observed[seen:] == [((K_YES,), rec.actual_profit)]
    assert shrink_held(executor, "k", _venue_holds(D(3))) == []  # nothing claimed: no record
