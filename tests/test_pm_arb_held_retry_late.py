"""A retry's IOC of a held Kalshi leg whose answer is lost and whose venue cannot be asked
within leg_timeout_s: the retry records the contracts held; the sale's fill, streamed late,
is booked as that retry's (its loss in the strategy's day), not shrunk as a sale by hand."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from test_pm_arb_held_shrink import NO, _held_by_a_run, rig  # noqa: F401
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.testing import eventually
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind

D = Decimal


class _DropThenDown(Faults):
    """An order's answer lost, then every REST request answered 503 until told otherwise."""

    def take_drop(self) -> bool:
        dropped = super().take_drop()
        if dropped:
            self.http_5xx_rate = 1.0
        return dropped


async def test_a_retry_sale_streamed_after_its_timeout_lands_in_the_day_and_book(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, _ = rig
    node, _events = await _held_by_a_run(tmp_path, kalshi, pm)
    strat = node.strategies[0]
    executor = strat.executor
    assert executor is not None
    try:
        node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.01
        executor.config = executor.config.model_copy(update={"leg_timeout_s": 0.3})
        [leg] = held_legs(load_arb_executions(node.storage, strategy_id="pmarb"))
        day = strat.book.realised_today
        # the IOC executes, its answer is lost, the venue answers nothing more for a while and
        # the fill message is kept back
        kalshi.held_fills = []
        kalshi.faults = _DropThenDown(drop_response_after_execute=1)
        rec = await asyncio.wait_for(retry_unwind(executor, leg, D(50)), 60)  # sells at the bid
        assert rec is not None and rec.outcome == "held", rec.reason
        assert rec.held == {f"{NO}/USD": leg.contracts}
        assert len(executor.late_sales) == 1
        kalshi.faults.http_5xx_rate = 0.0
        kalshi.release_fills()
        await eventually(lambda: strat.book.open == [])  # each late fill shrinks the held leg
        rows = sorted(load_arb_executions(node.storage, strategy_id="pmarb"), key=lambda r: r["id"])
        late = rows[2:]  # after the held record and the retry's, one record a late fill
        assert late and [r["outcome"] for r in late][-1] == "unwound", late
        assert all(r["legs"]["retry_of"] == rows[0]["id"] for r in late)
        assert all("late fill of the retry's sell" in r["legs"]["reason"] for r in late)
        sold = sum(D(str(r["legs"]["size"])) for r in late)
        assert sold == leg.contracts
        loss = sum(D(str(r["actual_profit"])) for r in late)
        assert loss < 0 and strat.book.realised_today == day + loss  # the strategy's day
        assert held_legs(rows) == []
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok and report.held_shrunk == [], report.to_json()  # not a sale by hand
    finally:
        await node.stop()
        node.close()
