"""A retry's IOC of a held Kalshi leg still in flight when the retry was recorded, then a
restart before its fill is learnt: the fill, found at the restart, is still booked as that
retry's (its loss in the strategy's day), not shrunk later as a sale by hand."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from test_pm_arb_held_retry_late import _DropThenDown
from test_pm_arb_held_shrink import NO, _held_by_a_run, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from tradeguard.execution.gateway import RECORD_STATE_KEY
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs, retry_unwind

D = Decimal
BOUND_S = 60


async def test_a_retry_sale_filled_across_a_restart_is_booked_as_the_retrys(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, _ = rig
    node, _events = await asyncio.wait_for(_held_by_a_run(tmp_path, kalshi, pm), 4 * BOUND_S)
    strat = node.strategies[0]
    executor = strat.executor
    assert executor is not None
    cfg = node.config
    try:
        node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.01
        executor.config = executor.config.model_copy(update={"leg_timeout_s": 0.3})
        [leg] = held_legs(load_arb_executions(node.storage, strategy_id="pmarb"))
        day = strat.book.realised_today
        kalshi.held_fills = []
        kalshi.faults = _DropThenDown(drop_response_after_execute=1)
        rec = await asyncio.wait_for(retry_unwind(executor, leg, D(50)), BOUND_S)
        assert rec is not None and rec.outcome == "held", rec.reason
        assert len(executor.late_sales) == 1
        # committed with the retry's record: a kill before the next checkpoint keeps it too
        committed = node.storage.kv_get(RECORD_STATE_KEY.format("pmarb"))
        assert set(committed["late_sales"]) == set(executor.late_sales)
    finally:
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()
    # the venue answers again; its fill message was never streamed to the stopped node
    kalshi.faults.http_5xx_rate = 0.0
    kalshi.release_fills()

    node, _ = await asyncio.wait_for(_start(cfg), BOUND_S)
    strat = node.strategies[0]
    try:
        rows = sorted(load_arb_executions(node.storage, strategy_id="pmarb"), key=lambda r: r["id"])
        late = rows[2:]  # after the held record and the retry's: the late fill's
        assert late and late[-1]["outcome"] == "unwound", rows
        assert all(r["legs"]["retry_of"] == rows[0]["id"] for r in late)
        assert held_legs(rows) == []
        assert strat.book.open == []
        loss = sum(D(str(r["actual_profit"])) for r in late)
        assert loss < 0 and strat.book.realised_today == day + loss
        report = await asyncio.wait_for(reconcile_and_gate(node, "periodic"), BOUND_S)
        assert report.ok and report.held_shrunk == [], report.to_json()  # not a sale by hand
    finally:
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()
