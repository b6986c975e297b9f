"""An unwind the venue acknowledged and then never ended (its send, query and cancel all
unanswered within leg_timeout_s) may still sell: it is never taken as unfilled. The attempt
ends held on what the unwind has not been seen to sell, with a critical `arb.held` naming the
unresolved order, as an unresolved leg is."""

from __future__ import annotations

from decimal import Decimal

from test_pm_arb_executor import K_YES, PM_NO, _setup

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
    [held] = [e for e in k.events if e.kind == "arb.held"]
    assert held.severity == "critical"
    assert unwind.client_order_id in held.data["message"], held.data["message"]
    assert "unresolved" in held.data["message"]
    [lone] = executor.book.open
    assert lone.contracts == D(10) and lone.legs == (K_YES,)
