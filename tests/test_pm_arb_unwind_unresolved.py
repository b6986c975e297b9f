"""An unwind the venue acknowledged and then never ended (its send, query and cancel all
unanswered within leg_timeout_s) may still sell: it is never taken as unfilled. The attempt
ends held on what the unwind has not been seen to sell, with a critical `arb.held` naming the
unresolved order, as an unresolved leg is."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_executor import K_YES, PM_NO, _setup
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.strategies.cross_venue.late_sale import late_fill

D = Decimal


async def test_an_unwind_never_answered_is_held_naming_the_order() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D(1)
    )
    pm.refuse.add(PM_NO)  # the second leg is refused: the first is sold back
    k.bids[K_YES] = [(D("0.38"), D(10))]
    k.stalled_sells.add(K_YES)  # the sale is sent and never answered
    rec = await executor.execute(opp)
    unwind = rec.legs[-1]
    assert unwind.role == "unwind" and unwind.status in ("accepted", "submitted")
    assert rec.outcome == "held", rec.reason
    assert rec.held == {K_YES: D(10)}
    assert "unwind leg" in rec.reason and "unresolved" in rec.reason, rec.reason
    [held] = [e for e in (*k.events, *pm.events) if e.kind == "arb.held"]
    assert held.severity == "critical"
    assert unwind.client_order_id in held.data["message"], held.data["message"]
    assert "unresolved" in held.data["message"]
    [lone] = executor.book.open
    assert lone.contracts == D(10) and lone.legs == (K_YES,)


async def test_a_late_fill_of_the_unanswered_unwind_is_booked_back_into_the_held_leg() -> None:
    executor, k, pm, opp = _setup(
        [(D("0.40"), D(10))], [(D("0.55"), D(50))], max_unwind_loss_usd=D(1)
    )
    pm.refuse.add(PM_NO)
    k.bids[K_YES] = [(D("0.38"), D(10))]
    k.stalled_sells.add(K_YES)
    rec = await executor.execute(opp)
    assert rec.outcome == "held" and rec.record_id is not None, rec.reason
    unwind = rec.legs[-1]
    day = executor.book.realised_today
    # the sale the venue never answered sells 6 of the 10 after the attempt was recorded
    fill = Fill("k", K_YES, unwind.client_order_id, "v1", "t1", Side.SELL, D("0.38"), D(6),
                D("0.01"), "USD", LiquiditySide.TAKER, 0)  # fmt: skip
    late = late_fill(executor, fill)
    assert late is not None, "the late fill of the unwind was not booked"
    assert late.retry_of == rec.record_id and late.held == {K_YES: D(4)}
    [lone] = executor.book.open
    assert lone.contracts == D(4), lone
    assert executor.book.realised_today == day + late.actual_profit < day
    # the state committed with the held record keeps the sale, so a restart books it too
    [state] = [s for s in (*k.states, *pm.states) if s["record_id"] == rec.record_id]
    assert unwind.client_order_id in state["late_sales"], state
