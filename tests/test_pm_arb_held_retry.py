"""A lone leg held beyond max_unwind_loss_usd can be offered again on request, with a new cap."""

from __future__ import annotations

from decimal import Decimal

from pm_arb_support import StubGateway
from test_pm_arb_executor import K_YES, PM_NO, _setup
from tradeguard.strategies.cross_venue.executor import PairExecutor
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind

D = Decimal


def _rows(gateway: StubGateway) -> list[dict]:
    return [{**row, "id": i + 1} for i, row in enumerate(gateway.rows)]


async def _held() -> tuple[PairExecutor, StubGateway, StubGateway]:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D("0.50")
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.30"), D(10))]  # selling there would lose 1.54 > 0.50
    assert (await executor.execute(opp)).outcome == "held"
    return executor, k, pm


async def test_a_held_leg_is_sold_again_within_a_new_cap_and_leaves_the_book() -> None:
    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    assert (leg.record_id, leg.venue, leg.symbol, leg.contracts) == (1, "k", K_YES, D(10))
    assert leg.capital == D("4.17")  # 10 at 0.40 plus the 0.17 fee
    rec = await retry_unwind(executor, leg, D(2))
    assert rec.outcome == "unwound", rec.reason
    assert rec.retry_of == 1 and rec.held == {}
    [sell] = [o for o in k.sent if o.side.value == "sell"][-1:]
    assert sell.time_in_force.value == "IOC" and sell.filled == 10
    assert -rec.actual_profit <= D(2)
    assert executor.book.open == []
    assert held_legs(_rows(pm)) == []  # the retry's record ends the held one


async def test_a_retry_within_the_old_cap_stays_held_and_the_next_starts_from_it() -> None:
    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    again = await retry_unwind(executor, leg, D("0.50"))
    assert again.outcome == "held" and again.held == {K_YES: D(10)}
    [still] = held_legs(_rows(pm))
    assert still.contracts == D(10) and still.record_id == 1
    assert len(executor.book.open) == 1
    k.bids[K_YES] = [(D("0.30"), D(4))]  # only 4 find a buyer within the new cap
    part = await retry_unwind(executor, still, D(2))
    assert part.outcome == "held" and part.held == {K_YES: D(6)}
    [rest] = held_legs(_rows(pm))
    assert rest.contracts == D(6)
    assert executor.book.open[0].contracts == D(6)


async def test_contracts_no_longer_free_on_the_venue_are_not_offered() -> None:
    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    k.cash["KXFED:YES"] = D(0)  # sold by hand meanwhile
    rec = await retry_unwind(executor, leg, D(2))
    assert rec.outcome == "failed" and "no longer free" in rec.reason
    assert [o for o in k.sent if o.side.value == "sell"][1:] == []
    assert held_legs(_rows(pm)) == []


async def test_two_retries_of_the_same_held_leg_at_once_sell_it_only_once() -> None:
    # Two requests read the held records before either retry is written (the route reads them
    # outside the executor's lock). The venue holds 10 more of the contract for a completed
    # pair: the second retry must not sell those as well.
    import asyncio

    executor, k, pm = await _held()
    k.cash["KXFED:YES"] = D(20)
    k.bids[K_YES] = [(D("0.30"), D(20))]
    [one], [two] = held_legs(_rows(pm)), held_legs(_rows(pm))
    first, second = await asyncio.gather(
        retry_unwind(executor, one, D(2)), retry_unwind(executor, two, D(2))
    )
    assert first is not None and first.outcome == "unwound", first.reason
    sold = sum((o.filled for o in k.sent if o.side.value == "sell"), D(0))
    assert sold == 10
    assert second is None  # retried meanwhile: nothing sent, no record
    assert len(pm.rows) == 2 and held_legs(_rows(pm)) == []


async def test_a_retry_cut_short_before_its_record_is_taken_up_as_that_retry() -> None:
    # The node is killed after the retry's IOC sold and before its record was written: the
    # next start finds the IOC filled and named by no record and hands it to the executor.
    from tradeguard.strategies.cross_venue.adopt import adopt_interrupted

    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    k.bids[K_YES] = [(D("0.30"), D(4))]  # 4 of the 10 sell within the cap
    await retry_unwind(executor, leg, D(2))
    del pm.rows[-1]  # never written
    [sell] = [o for o in k.sent if o.side.value == "sell"][-1:]
    assert sell.signal.get("retry_of") == leg.record_id
    rec = await adopt_interrupted(
        executor, [sell], {sell.client_order_id: k.fills(sell.client_order_id)}
    )
    assert rec.retry_of == leg.record_id and rec.outcome == "held", rec.reason
    assert rec.held == {K_YES: D(6)}
    [rest] = held_legs(_rows(pm))  # the next retry starts from what is left
    assert (rest.record_id, rest.contracts) == (leg.record_id, D(6))
    assert rest.capital == leg.capital * 6 / 10


async def test_a_retry_sale_filling_after_its_timeout_books_its_loss_as_the_retrys() -> None:
    from tradeguard.model.enums import LiquiditySide, Side
    from tradeguard.model.fill import Fill
    from tradeguard.strategies.cross_venue.late_sale import late_fill

    executor, k, pm = await _held()
    [leg] = held_legs(_rows(pm))
    day_before = executor.book.realised_today
    k.stalled.add(K_YES)  # the IOC's answer and fill do not come within leg_timeout_s
    rec = await retry_unwind(executor, leg, D(2))
    assert rec.outcome == "held" and rec.held == {K_YES: D(10)}, rec.reason
    [sale] = [o for o in k.sent if o.side is Side.SELL][-1:]
    assert list(executor.late_sales) == [sale.client_order_id]
    # the sale fills late: 6 at 0.30 (fee 0.13), then 4
    fills = [
        Fill("k", K_YES, sale.client_order_id, "v1", f"late-{i}", Side.SELL, D("0.30"), n, fee,
             "USD", LiquiditySide.TAKER, k.clock_ms + 1000)
        for i, (n, fee) in enumerate(((D(6), D("0.13")), (D(4), D("0.06"))))
    ]  # fmt: skip
    other = Fill("k", K_YES, "k-other", "v2", "x-1", Side.SELL, D("0.30"), D(1), D(0), "USD",
                 LiquiditySide.TAKER, k.clock_ms)  # fmt: skip
    assert late_fill(executor, other) is None  # not the retry's order: not booked here
    part = late_fill(executor, fills[0])
    assert part is not None and part.outcome == "held" and part.held == {K_YES: D(4)}
    assert part.retry_of == 1 and part.actual_profit == D("1.80") - D("0.13") - D("2.502")
    assert executor.book.open[0].contracts == D(4)
    [still] = held_legs(_rows(pm))
    assert still.contracts == D(4) and still.capital == D("1.668")
    rest = late_fill(executor, fills[1])
    assert rest is not None and rest.outcome == "unwound" and rest.held == {}
    assert rest.actual_profit == D("1.20") - D("0.06") - D("1.668")
    assert executor.book.open == [] and held_legs(_rows(pm)) == []
    loss = part.actual_profit + rest.actual_profit
    assert executor.book.realised_today == day_before + loss  # the strategy's day
    assert [o[1] for o in pm.observed[-2:]] == [part.actual_profit, rest.actual_profit]
    assert executor.late_sales == {} and late_fill(executor, fills[1]) is None
