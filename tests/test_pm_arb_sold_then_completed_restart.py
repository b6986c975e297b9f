"""A lone Kalshi leg sold by hand, then the same pair completed, then a restart: the start
ends within its bound, books the complete pair once and shrinks nothing. A start of this shape
was once seen hanging in a test run; it did not recur here (every wait is bounded, so a hang
fails the test instead of holding the run)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from test_pm_arb_held_shrink import NO, _held_by_a_run, _sell_by_hand, rig  # noqa: F401
from test_pm_arb_interrupted import _start
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.events import EventKind
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs

BOUND_S = 60  # any one step; a loaded machine takes a few seconds


async def test_a_restart_after_a_leg_sold_by_hand_then_the_pair_completed_ends_and_books_once(
    tmp_path,
    rig,  # noqa: F811
):
    kalshi, pm, k_keys = rig
    node, _ = await asyncio.wait_for(_held_by_a_run(tmp_path, kalshi, pm), 4 * BOUND_S)
    [lone] = node.strategies[0].book.open
    await _sell_by_hand(kalshi, k_keys, lone.contracts, "by-hand-all")
    report = await asyncio.wait_for(reconcile_and_gate(node, "periodic"), BOUND_S)
    assert report.ok and len(report.held_shrunk) == 1, report.to_json()
    assert node.strategies[0].book.open == []
    cfg = node.config
    await asyncio.wait_for(node.stop(), BOUND_S)
    node.close()

    # a restart, then the pair trades again and completes
    node, _ = await asyncio.wait_for(_start(cfg), BOUND_S)
    strat = node.strategies[0]
    try:
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        scenario = ArbScenario(
            pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig(size=Decimal(20))
        )
        run = asyncio.create_task(node.run_live(duration_s=4 * BOUND_S))
        scenario.appear(scenario.markets[0])
        for _ in range(int(4 * BOUND_S / 0.05)):
            if strat.attempts or run.done():
                break
            await asyncio.sleep(0.05)
        node.request_stop()
        await asyncio.wait_for(run, BOUND_S)
        scenario.vanish(scenario.markets[0])
        assert [a.outcome for a in strat.attempts] == ["completed"], strat.attempts
        [pair] = strat.book.open
        assert not pair.lone
    finally:
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()

    node, events = await asyncio.wait_for(_start(cfg), BOUND_S)
    try:
        [again] = node.strategies[0].book.open
        assert (again.pair_id, again.contracts, again.lone) == (pair.pair_id, pair.contracts, False)
        rows = load_arb_executions(node.storage, strategy_id="pmarb")
        assert [r["outcome"] for r in rows] == ["held", "failed", "completed"], rows
        assert held_legs(rows) == []
        assert not [e for e in events if e.kind == EventKind.ARB_EXECUTION]
        report = await asyncio.wait_for(reconcile_and_gate(node, "periodic"), BOUND_S)
        assert report.ok and report.held_shrunk == [], report.to_json()
    finally:
        await asyncio.wait_for(node.stop(), BOUND_S)
        node.close()
