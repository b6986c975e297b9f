"""A retry of one attempt's lone leg changes that leg only, never another attempt's of the pair."""

from __future__ import annotations

import copy
from decimal import Decimal

from test_pm_arb_executor import K_YES, PM_NO, _setup
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind

D = Decimal


async def test_selling_the_newer_lone_leg_of_a_pair_leaves_the_older_one_booked() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D("0.50")
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.30"), D(10))]  # selling there would lose 1.54 > 0.50: held
    assert (await executor.execute(opp)).outcome == "held"
    k.asks[K_YES] = [(D("0.40"), D(10))]
    k.bids[K_YES] = [(D("0.30"), D(10))]
    assert (await executor.execute(copy.copy(opp))).outcome == "held"
    rows = [{**row, "id": i + 1} for i, row in enumerate(pm.rows)]
    legs = {leg.record_id: leg for leg in held_legs(rows)}
    assert sorted(legs) == [1, 2]
    assert sorted(p.record_id or 0 for p in executor.book.open) == [1, 2]
    k.cash["KXFED:YES"] = D(20)
    k.bids[K_YES] = [(D("0.30"), D(4))]  # 4 of record 2's 10 find a buyer within the cap
    rec = await retry_unwind(executor, legs[2], D(2))
    assert rec is not None and rec.held == {K_YES: D(6)}, rec and rec.reason
    held = {p.record_id: p.contracts for p in executor.book.open}
    assert held == {1: D(10), 2: D(6)}
    k.bids[K_YES] = [(D("0.30"), D(20))]
    [newer] = [leg for leg in held_legs([{**r, "id": i + 1} for i, r in enumerate(pm.rows)])
               if leg.record_id == 2]  # fmt: skip
    rec = await retry_unwind(executor, newer, D(2))
    assert rec is not None and rec.outcome == "unwound", rec and rec.reason
    assert {p.record_id: p.contracts for p in executor.book.open} == {1: D(10)}
