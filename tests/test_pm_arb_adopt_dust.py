"""Dust left by an attempt a crash cut short is written off at the next start as during a run.

The unwind sold 7 of the 10 contracts the first leg bought, and the node was killed before the
attempt's record: the 3 left are fewer than the venue's minimum order (5). The start must not
offer them (no order of the venue can sell them) and must count their cost as a loss now, in the
record's actual profit and the day's realised loss, as a run's unwind does."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_dust_loss import _five_at_least
from test_pm_arb_executor import PM_NO, _setup
from tradeguard.strategies.cross_venue.adopt import adopt_interrupted, hold_interrupted

D = Decimal


async def _cut_short():
    """A run whose unwind left 3 of 10 as dust; its legs, as the journal has them after a kill
    before the record, and a fresh executor (the next start) on the same venues."""
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )
    pm.instrument = _five_at_least("pm", D("0.01"))  # type: ignore[method-assign]
    k.refuse.add("KXFED:YES/USD")
    pm.bids[PM_NO] = [(D("0.53"), D(7))]
    run = await executor.execute(opp)  # what the run would have recorded
    assert run.outcome == "unwound" and run.dust == {PM_NO: D(3)}, run
    legs = [*pm.sent, *k.sent]
    for order, role in zip(legs, ("first", "unwind", "second"), strict=True):
        order.signal = {**order.signal, "arb": role}
    fills = {o.client_order_id: [*pm.fills(o.client_order_id)] for o in legs}
    start, _k2, pm2, _ = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )
    pm2.instrument = _five_at_least("pm", D("0.01"))  # type: ignore[method-assign]
    pm2.bids[PM_NO] = [(D("0.53"), D(100))]  # a book that would take any amount
    return run, legs, fills, start, pm2


async def test_dust_left_before_the_kill_is_written_off_at_start_and_never_offered() -> None:
    run, legs, fills, start, pm2 = await _cut_short()
    rec = await adopt_interrupted(start, legs, fills)
    assert pm2.sent == []  # 3 contracts: below the venue's minimum order, nothing to send
    assert rec.outcome == "unwound" and rec.dust == {PM_NO: D(3)}, rec.reason
    assert rec.held == {} and start.book.open == []
    assert rec.actual_profit == run.actual_profit  # the sale's loss and the dust's cost
    assert start.book.realised_today == run.actual_profit
    assert "dust" in rec.reason, rec.reason


async def test_dust_left_before_the_kill_is_written_off_under_hold_too() -> None:
    run, legs, fills, start, pm2 = await _cut_short()
    rec = hold_interrupted(start, legs, fills, "the node stopped during this attempt")
    assert pm2.sent == []
    assert rec.outcome == "unwound" and rec.dust == {PM_NO: D(3)}, rec.reason
    assert rec.held == {} and start.book.open == []
    assert start.book.realised_today == run.actual_profit == rec.actual_profit
