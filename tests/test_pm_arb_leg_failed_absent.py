"""A pair leg whose trade FAILED while the node ran without the pair's strategy: the flag keeps
the cut waiting until a node runs the strategy, which cuts the pair then (two local servers)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

D = Decimal


async def test_a_leg_flagged_by_a_node_without_its_strategy_is_cut_by_the_next_with_it(
    tmp_path, monkeypatch
) -> None:
    """A pair completes; its Polymarket trade FAILED while the node was down; a node started
    without the strategy flags the fill. Before, the flag called the strategy's cut, found no
    such strategy here and dropped it: the pair stayed whole, its Kalshi leg held unhedged."""
    from test_pm_arb_node import arb_config, vault_with_both
    from tradeguard.execution.failed_fills import CUTS_WAITING_KEY
    from tradeguard.execution.reconcile import reconcile_and_gate
    from tradeguard.node import TradingNode
    from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
    from tradeguard.sandbox.pm_serve import (
        kalshi_demo,
        kalshi_keys,
        paired_markets,
        polymarket_demo,
        polymarket_keys,
    )
    from tradeguard.storage.arb_repository import load_arb_executions

    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    try:
        scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                               ArbScenarioConfig(size=D(20)))  # fmt: skip
        vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
        cfg = arb_config(tmp_path, kalshi, pm, {"on_interrupted": "hold"}, {})
        node = TradingNode(cfg)
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
        await node.start()
        strat = node.strategies[0]
        run = asyncio.create_task(node.run_live(duration_s=30))
        try:
            await asyncio.sleep(0.3)
            scenario.appear(scenario.markets[0])
            for _ in range(400):
                if strat.attempts:
                    break
                await asyncio.sleep(0.025)
            [done] = strat.attempts
            assert done.outcome == "completed", done.reason
            [fill] = node.storage.load_fills(venue="polymarket")
        finally:
            node.request_stop()
            await run
            await node.stop()
            node.close()
        pm.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")

        def codes(n: TradingNode) -> list[str]:
            return [r["legs"]["code"] for r in load_arb_executions(n.storage, strategy_id="pmarb")
                    if r["legs"].get("code")]  # fmt: skip

        node = TradingNode(cfg.model_copy(update={"strategies": []}))
        await node.start()
        try:
            flagged = node.storage.kv_get("reconcile.report")["fills_failed"]
            assert [f["trade_id"] for f in flagged] == [fill.trade_id]
            assert node.storage.kv_get(CUTS_WAITING_KEY) == {
                "polymarket": [[fill.trade_id, "buy", fill.symbol, "pmarb"]]
            }  # kept until a node runs the strategy
            await reconcile_and_gate(node)
        finally:
            await node.stop()
            node.close()
        node = TradingNode(cfg)
        await node.start()
        try:
            assert codes(node) == ["LEG_FAILED"]
            assert node.storage.kv_get(CUTS_WAITING_KEY) in (None, {})
            [lone] = node.strategies[0].book.open
            assert lone.lone and lone.venues == ("kalshi",) and lone.contracts == 20
        finally:
            await node.stop()
            node.close()
    finally:
        await pm.stop()
        await kalshi.stop()
