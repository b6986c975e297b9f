"""A crash left a second leg that hedged only part of the first: the start books the hedged
contracts as the pair (one trade, its profit at settlement) and sells back the rest.

The first leg bought 10 NO on the polymarket side; the kalshi hedge filled 4 before the node was
killed, before the attempt's record. The 6 left are more than dust. The start's record keeps the
pair's profit and adds what selling the 6 back realised; the day counts one trade, as the pair
would have been, not a second for the sale of its remainder."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_executor import K_YES, PM_NO, _setup
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.strategies.cross_venue.adopt import adopt_interrupted, hold_interrupted
from tradeguard.strategies.cross_venue.fees import FeeModel

D = Decimal
HEDGED = D(4)


async def _part_hedged(hedged: Decimal = HEDGED):
    """The legs a kill left (first 10 filled, second `hedged` (4) of 10), their fills, and the
    first leg's cost and the hedge contracts' cost; then a fresh executor, the next start."""
    executor, k, pm, opp = _setup([(D("0.40"), D(50))], [(D("0.55"), D(10))])
    run = await executor.execute(opp)
    assert run.outcome == "completed" and [o.venue for o in (*pm.sent, *k.sent)] == ["pm", "k"]
    first, second = pm.sent[0], k.sent[0]
    for order, role in ((first, "first"), (second, "second")):
        order.signal = {**order.signal, "arb": role}
    price = run.legs[1].avg_price
    hedge_fee = FeeModel.default("kalshi").order_fee([(price, hedged)])
    cid = second.client_order_id
    part = Fill("k", K_YES, cid, cid, f"{cid}-0", Side.BUY, price, hedged, hedge_fee, "USD",
                LiquiditySide.TAKER, second.created_ts)  # fmt: skip
    fills = {second.client_order_id: [part]}  # the kill came after 4 of the 10
    paid = -run.legs[0].cash  # the first leg's 10 contracts, fee included
    hedge_cost = hedged * part.price + hedge_fee
    start, _k2, pm2, _ = _setup(
        [(D("0.40"), D(50))], [(D("0.55"), D(10))], max_unwind_loss_usd=D(2)
    )
    return [first, second], fills, paid, hedge_cost, start, pm2


async def test_the_rest_sold_back_keeps_the_pairs_profit_and_counts_one_trade() -> None:
    legs, fills, paid, hedge_cost, start, pm2 = await _part_hedged()
    pm2.bids[PM_NO] = [(D("0.53"), D(100))]
    rec = await adopt_interrupted(start, legs, fills)
    [sale] = pm2.sent
    assert sale.side.value == "sell" and sale.amount == 6 and sale.filled == 6
    pair_profit = HEDGED - (paid * HEDGED / 10 + hedge_cost)
    sale_pnl = sale.filled * sale.avg_price - sale.fee - paid * 6 / 10
    assert sale_pnl < 0 < pair_profit
    assert rec.actual_profit == pair_profit + sale_pnl, rec.reason
    assert start.book.trades_today == 1  # the pair; its remainder's sale is no second trade
    assert start.book.realised_today == sale_pnl  # the pair's profit comes at settlement
    assert rec.outcome == "completed" and rec.held == {}, rec.reason
    [pair] = start.book.open
    assert pair.contracts == HEDGED and not pair.lone
    assert pair.capital == rec.capital == paid * HEDGED / 10 + hedge_cost
    assert pm2.rows[-1]["actual_profit"] == rec.actual_profit


async def test_the_rest_held_keeps_the_pairs_profit_as_a_start_that_holds_it_does() -> None:
    legs, fills, paid, hedge_cost, start, pm2 = await _part_hedged()
    pm2.bids[PM_NO] = [(D("0.10"), D(100))]  # no bid within the cap: the 6 stay held
    rec = await adopt_interrupted(start, legs, fills)
    assert [o.filled for o in pm2.sent] == [0]
    pair_profit = HEDGED - (paid * HEDGED / 10 + hedge_cost)
    assert rec.outcome == "held" and rec.held == {PM_NO: D(6)}, rec.reason
    assert rec.actual_profit == pair_profit
    assert start.book.trades_today == 1 and start.book.realised_today == 0
    assert sorted(p.contracts for p in start.book.open) == [HEDGED, D(6)]

    _legs, _fills, _paid, _cost, held_start, _pm3 = await _part_hedged()
    held = hold_interrupted(held_start, _legs, _fills, "the node stopped during this attempt")
    assert (held.outcome, held.held, held.actual_profit) == (
        rec.outcome,
        rec.held,
        rec.actual_profit,
    )
    assert held_start.book.trades_today == start.book.trades_today
    assert sorted(p.contracts for p in held_start.book.open) == [HEDGED, D(6)]
    assert K_YES not in rec.held


async def test_the_rest_gone_from_the_venue_leaves_the_pair_completed_not_failed() -> None:
    legs, fills, paid, hedge_cost, start, pm2 = await _part_hedged()
    inst = pm2.instrument(PM_NO)
    assert inst is not None
    pm2.cash[inst.base] = D(0)  # the 6 were sold by hand while the node was down
    rec = await adopt_interrupted(start, legs, fills)
    assert pm2.sent == []
    assert rec.outcome == "completed" and "no longer free" in rec.reason, rec.reason
    assert rec.actual_profit == HEDGED - (paid * HEDGED / 10 + hedge_cost)
    assert start.book.trades_today == 1 and [p.contracts for p in start.book.open] == [HEDGED]
