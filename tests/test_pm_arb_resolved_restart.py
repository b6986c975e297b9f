"""A held pair whose two markets resolved while the node was down: the node starts again (the
closed markets are no longer traded) and settles the pair, instead of refusing to start."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.model.events import EventKind
from tradeguard.model.outcome import Resolution
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy


async def _run(cfg, until, seconds: float = 10.0) -> tuple[TradingNode, list]:
    node = TradingNode(cfg)
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
    events: list = []
    node.bus.subscribe(events.append)
    await node.start()
    run = asyncio.create_task(node.run_live(duration_s=seconds))
    try:
        for _ in range(int(seconds / 0.025)):
            if until(node, events) or run.done():
                break
            await asyncio.sleep(0.025)
    finally:
        node.request_stop()
        await run
        await node.stop()
        node.close()
    return node, events


@pytest.mark.parametrize("stored", [True, False], ids=["balances-stored", "stopped-at-once"])
async def test_a_held_pair_resolved_while_down_is_settled_after_restart(
    tmp_path, monkeypatch, stored
):
    """`stopped-at-once`: the node stops right after the trade, before any reconciliation has
    stored the venues' balances; the settlement reads the holding from the ledger's fills."""
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    try:
        vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
        cfg = arb_config(tmp_path, kalshi, pm, {}, {})
        cfg.strategies[0].params["settle_check_s"] = 0.2
        cfg.node.reconcile_interval_s = 1  # the venues' balances are stored after the trade
        market = paired_markets("polymarket", pm)[0]
        scenario = ArbScenario(pm.book, [market], ArbScenarioConfig(size=Decimal(20)))
        scenario.appear(market)

        def traded(node, _events):
            strat = node.strategies[0]
            held = isinstance(strat, CrossVenueStrategy) and bool(strat.book.open)
            return held and (not stored or node.reconcile_report.trigger == "periodic")

        first, _ = await _run(cfg, traded)
        assert first.strategies[0].book.open, "no pair was bought"
        kalshi.resolve(paired_markets("kalshi", kalshi)[0], Resolution.YES)
        pm.resolve(market, Resolution.YES)

        def settled(_node, events):
            return any(e.kind == EventKind.ARB_SETTLED for e in events)

        second, events = await _run(cfg, settled)
        done = [e for e in events if e.kind == EventKind.ARB_SETTLED]
        assert len(done) == 1 and done[0].data["pair_id"] == "fed-dec-above-4", events
        assert not done[0].data["mismatch"] and Decimal(done[0].data["payout"]) == 20
        assert second.strategies[0].book.open == []
        assert second.ledger_report is not None and second.ledger_report.ok
    finally:
        await pm.stop()
        await kalshi.stop()
