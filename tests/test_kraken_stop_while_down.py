"""A native Kraken stop that fills while the node is down (SIGKILLed after sending it) is booked
once when the node comes back, and not again on the next restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rigs import killed_child
from test_kraken_node import CHILD, vault  # noqa: F401  (the fixture: carol's key in a vault)
from test_kraken_stops import _node_config, _resting
from tradeguard.model import OrderStatus, OrderType, Side
from tradeguard.node import TradingNode
from tradeguard.sandbox.kraken.testing import seeded_kraken

D = Decimal


def _stop(node: TradingNode) -> Any:
    orders = node.storage.load_orders(venue="kraken")
    return next(o for o in orders if o.type is OrderType.STOP_LOSS)


def _sells(node: TradingNode) -> list[Any]:
    return [f for f in node.storage.load_fills(venue="kraken") if f.side is Side.SELL]


@pytest.mark.usefixtures("vault")
async def test_a_stop_filled_while_the_node_was_down_is_booked_once(tmp_path: Path) -> None:
    async with seeded_kraken() as kx:
        cfg = _node_config(tmp_path, kx)
        await killed_child(CHILD, tmp_path, cfg, "stop", timeout_s=90)
        [resting] = _resting(kx)
        kx.set_book("BTC/USD", bids=[("48990", "1")], asks=[("49010", "1")])
        kx.trade_through("BTC/USD", "SELL", "48990", "0.1")  # triggers it with nobody watching
        assert _resting(kx) == []
        for _ in range(2):
            node = TradingNode(cfg)
            try:
                await node.start()
                assert node.reconcile_report.ok, node.reconcile_report.reason
                order = _stop(node)
                assert order.client_order_id == resting.client_order_id
                assert order.status is OrderStatus.FILLED
                assert [(f.price, f.amount) for f in _sells(node)] == [(D("48990"), D("0.002"))]
            finally:
                await node.stop()
                node.close()
