"""A node's stored Kalshi and Polymarket balances follow fills, not the next reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.sandbox.testing import eventually


def _stored(node: TradingNode, venue: str) -> dict[str, Decimal]:
    return {b.asset: b.total for b in node.storage.load_balances(venue)}


async def test_stored_balances_of_both_venues_follow_the_arbitrage_fills(tmp_path, monkeypatch):
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1], ArbScenarioConfig())
    try:
        vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
        cfg = arb_config(tmp_path, kalshi, pm, {}, {})
        # Neither reconciliation nor the balance sync runs while the test watches.
        cfg.node.reconcile_interval_s = 3600
        cfg.node.checkpoint_interval_s = 0.1
        cfg.reconcile.balance_sync_interval_s = 0
        node = TradingNode(cfg)
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        await node.start()
        before = (_stored(node, "kalshi"), _stored(node, "polymarket"))
        run = asyncio.create_task(node.run_live(duration_s=30))
        try:
            strat = node.strategies[0]
            scenario.appear(scenario.markets[0])
            await eventually(lambda: bool(strat.attempts), timeout_s=10)  # type: ignore[attr-defined]
            k_book, p_book = node.portfolio.book("kalshi"), node.portfolio.book("polymarket")
            no, yes = "KXFED-26DEC-T4.00:NO", "fed-above-4pct-dec:YES"
            await eventually(lambda: k_book.total(no) > 0 and p_book.total(yes) > 0)
            await eventually(
                lambda: (
                    _stored(node, "kalshi").get(no) == k_book.total(no)
                    and _stored(node, "polymarket").get(yes) == p_book.total(yes)
                )
            )
            assert _stored(node, "kalshi")["USD"] < before[0]["USD"]
            assert _stored(node, "polymarket")["PUSD"] < before[1]["PUSD"]
        finally:
            node.request_stop()
            await run
            await node.stop()
    finally:
        await pm.stop()
        await kalshi.stop()
