"""A pair leg whose trade FAILED while the node ran without the pair's strategy: the flag keeps
the cut waiting until a node runs the strategy, which cuts the pair then (two local servers)."""

from __future__ import annotations

from decimal import Decimal

from pm_support import completed_arb_pair

D = Decimal


async def test_a_leg_flagged_by_a_node_without_its_strategy_is_cut_by_the_next_with_it(
    tmp_path, monkeypatch
) -> None:
    """A pair completes; its Polymarket trade FAILED while the node was down; a node started
    without the strategy flags the fill. Before, the flag called the strategy's cut, found no
    such strategy here and dropped it: the pair stayed whole, its Kalshi leg held unhedged."""
    from tradeguard.execution.failed_fills import CUTS_WAITING_KEY
    from tradeguard.execution.reconcile import reconcile_and_gate
    from tradeguard.node import TradingNode
    from tradeguard.storage.arb_repository import load_arb_executions

    async with completed_arb_pair(tmp_path, monkeypatch, "hold") as arb:
        pm, cfg, fill = arb.pm, arb.cfg, arb.fill
        await arb.stop(close=True)
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
