"""A node SIGKILLed with a protective stop cancelled to be placed again smaller (a real node
subprocess, real ccxt client, Binance-compatible sandbox) sends the smaller stop at its next
start after reconciliation completes and before `start` returns (so before any strategy
callback or new entry), never while reconciliation still runs, and has it accepted within a
fraction of a second of reconciliation (bounded at 2 s for a loaded machine)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from native_exits_support import native_config
from node_support import trading_live
from test_exit_siblings_crash import _killed_mid_shrink
from tradeguard.model.enums import OrderStatus
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")

Seen = list[tuple[float, Event]]


def _at(seen: Seen, kind: EventKind, cid: str | None = None) -> float:
    """When the first event of `kind` (of order `cid`) was published."""
    return next(
        t for t, e in seen if e.kind == kind and cid in (None, e.data.get("client_order_id"))
    )


def _status(node: TradingNode, cid: str) -> OrderStatus | None:
    order = node.storage.get_order(cid)
    return None if order is None else order.status


def _sent(seen: Seen) -> list[dict[str, Any]]:
    return [e.data for _, e in seen if e.kind == EventKind.ORDER_SUBMITTED]


async def _restart(cfg: Any) -> tuple[TradingNode, Seen, float]:
    """Start a node on `cfg`, recording when each event was published; return it, the events
    and when `start` returned (before the live loop: no strategy callback, no entry yet)."""
    node = TradingNode(cfg)
    seen: Seen = []
    node.bus.subscribe(lambda e: seen.append((time.monotonic(), e)))
    try:
        await node.start()
    except BaseException:
        node.close()
        raise
    return node, seen, time.monotonic()


async def test_a_restarted_node_has_its_smaller_stop_accepted_right_after_reconciling(tmp_path):
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_mid_shrink(tmp_path, ex, cfg, "cancel_seen")
        node, seen, ready = await _restart(cfg)
        [new] = _sent(seen)  # the smaller stop alone: nothing else trades at start
        cid = new["client_order_id"]
        order = node.storage.get_order(cid)
        assert order is not None and order.signal.get("replaces") == docs["stop"]
        reconciled = _at(seen, EventKind.RECONCILED)
        assert reconciled <= _at(seen, EventKind.ORDER_SUBMITTED, cid) <= ready
        async with trading_live(node):  # its acceptance comes on the venue's order stream
            await eventually(lambda: _status(node, cid) is OrderStatus.ACCEPTED, 10)
        accepted = _at(seen, EventKind.ORDER_ACCEPTED, cid)
        # measured 0.03-0.35 s (the on-demand quote subscription 10-20 ms of it)
        assert accepted - reconciled < 2.0, f"accepted {accepted - reconciled:.3f} s after"


@pytest.mark.parametrize("moment", ["before_cancel", "cancel_sent"])
async def test_a_stop_found_cancelled_by_reconciliation_is_placed_again_only_after_it(
    tmp_path, moment: str
):
    # Reconciliation found the larger stop cancelled (its cancel taken by the venue, the node
    # killed before hearing back): the cancel's listener placed the smaller one from a task at
    # once, while reconciliation still read balances and trades, on a book not reconciled.
    ex = seeded_exchange()
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url)
        docs = await _killed_mid_shrink(tmp_path, ex, cfg, moment)
        ex.faults.latency_ms_by_endpoint = {"/api/v3/account": 800, "/api/v3/myTrades": 800}
        node, seen, ready = await _restart(cfg)
        try:
            [new] = _sent(seen)
            cid = new["client_order_id"]
            order = node.storage.get_order(cid)
            assert order is not None and order.signal.get("replaces") == docs["stop"]
            assert _at(seen, EventKind.RECONCILED) <= _at(seen, EventKind.ORDER_SUBMITTED, cid)
            assert _at(seen, EventKind.ORDER_SUBMITTED, cid) <= ready
        finally:
            await node.stop()
            node.close()
