"""A paper node whose triangular cycle is held on an order the venue never answered, and that
order ending later: the node's run figures (what `status`, the API and the metrics read) follow
the rewritten record at once, as a restart would read it back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tradeguard.model import Order
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.node import TradingNode, build_node
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import feed_universe_quotes, paper_arb_config, started_paper_arb_node

PARAMS = {
    "cooldown_s": 60,
    "exec": {"start_assets": ["USDT"], "max_size_usd": "500", "leg_timeout_s": 0.05},
}


def silence_third_order(node: TradingNode) -> list[Order]:
    """The paper venue executes a cycle's third order but answers nothing about it (its send,
    queries and cancels time out) until the returned list's `speak` is called."""
    venue, sent = node.venues["paper"], []
    submit, fetch, cancel = venue.submit, venue.fetch_order, venue.cancel
    n = 0

    async def lost_submit(order: Order):  # type: ignore[no-untyped-def]
        nonlocal n
        n += 1
        if n != 3:
            return await submit(order)
        sent.append(order)
        listener, venue._listener = venue._listener, None  # type: ignore[attr-defined]
        try:
            await submit(order)
        finally:
            venue._listener = listener  # type: ignore[attr-defined]
        raise AmbiguousVenueError(venue.name, f"timeout sending {order.client_order_id}")

    def lost(o: str) -> bool:
        return any(s.client_order_id == o for s in sent)

    async def lost_fetch(client_order_id: str, symbol: str):  # type: ignore[no-untyped-def]
        if lost(client_order_id):
            raise AmbiguousVenueError(venue.name, f"timeout asking for {client_order_id}")
        return await fetch(client_order_id, symbol)

    async def lost_cancel(order: Order):  # type: ignore[no-untyped-def]
        if lost(order.client_order_id):
            raise AmbiguousVenueError(venue.name, f"timeout cancelling {order.client_order_id}")
        return await cancel(order)

    venue.submit, venue.fetch_order, venue.cancel = lost_submit, lost_fetch, lost_cancel  # type: ignore[method-assign]
    node.orders.resolve_attempts, node.orders.resolve_delay_s = 1, 0.0
    node._speak = (venue, fetch, cancel)  # type: ignore[attr-defined]
    return sent


async def test_the_nodes_figures_follow_a_held_record_its_order_completed(
    tmp_path: Path,
) -> None:
    config = paper_arb_config(tmp_path, PARAMS)
    node = await started_paper_arb_node(config)
    try:
        sent = silence_third_order(node)
        await feed_universe_quotes(node)
        [held] = load_arb_executions(node.storage, strategy_id="tri")
        assert held["outcome"] == "held" and len(sent) == 1, held["legs"]["reason"]
        before = node.figures().trades["tri"]
        assert (before.trades, before.wins, before.pnl) == (1, 0, 0)

        venue, fetch, cancel = node._speak  # type: ignore[attr-defined]
        venue.fetch_order, venue.cancel = fetch, cancel
        node.clock.advance_to(node.clock.now_ms() + 60_000)  # type: ignore[attr-defined]
        await node.orders.retry_unknown()
        legs = node.strategies[0].executor.held_legs  # type: ignore[attr-defined]
        for task in list(legs._tasks.values()):
            await asyncio.wait_for(task, 5)
        [row] = load_arb_executions(node.storage, strategy_id="tri")
        assert row["outcome"] == "completed" and row["actual_profit"] > 0
        live = node.figures()
    finally:
        await node.stop_strategies()
        node.close()
    tri = live.trades["tri"]
    assert (tri.trades, tri.wins) == (1, 1)
    assert tri.pnl > 0 and live.realized_pnl == tri.pnl
    again = build_node(config)  # a restart reads the records back: the same figures
    try:
        assert again.figures().trades["tri"] == tri
    finally:
        again.close()
