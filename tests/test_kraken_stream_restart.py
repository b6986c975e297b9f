"""The node on the Kraken sandbox's private stream: a fill booked by the stream, the node
SIGKILLed, a fill made while it was down booked once at the restart, and the next fill, by
stream and by REST both, booked once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from rigs import killed_child
from test_kraken_node import _config, _kraken_venue, vault  # noqa: F401
from tradeguard.model import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.kraken.testing import CAROL_KEY, seeded_kraken
from tradeguard.sandbox.testing import eventually

CHILD = Path(__file__).with_name("kraken_partial_child.py")
D = Decimal


@pytest.mark.usefixtures("vault")
async def test_a_fill_made_while_the_node_was_down_is_booked_once_by_stream_and_rest(
    tmp_path: Path,
) -> None:
    async with seeded_kraken() as kx:
        cfg = _config(tmp_path, [_kraken_venue(kx)])
        child = asyncio.create_task(killed_child(CHILD, tmp_path, cfg, timeout_s=180))
        account = kx.account_id(CAROL_KEY)

        def streaming() -> bool:
            return any("executions" in c.subs for c in kx.kraken_ws_private.conns)

        await eventually(
            lambda: (bool(kx.engine.open_orders(account)) and streaming()) or child.done(), 120
        )
        assert not child.done(), child.result()
        kx.trade_through("BTC/USD", "SELL", "50000", "0.0005")  # by stream: it dies once booked
        await child
        await eventually(lambda: not kx.kraken_ws_private.conns, 10)
        kx.trade_through("BTC/USD", "SELL", "50000", "0.001")  # while the node is down
        node = TradingNode(cfg)
        try:
            await node.start()
            assert node.reconcile_report.ok, node.reconcile_report.reason
            venue = node.venues["kraken"]
            await eventually(venue.stream_live, 20)  # type: ignore[attr-defined]
            fills = node.storage.load_fills(venue="kraken")
            assert sorted(f.trade_id for f in fills) == ["TSBX-00000001", "TSBX-00000002"]
            kx.trade_through("BTC/USD", "SELL", "50000", "0.0005")  # the rest, by stream
            await eventually(lambda: len(node.storage.load_fills(venue="kraken")) == 3, 10)
            await venue._catch_up()  # type: ignore[attr-defined]  # and by REST too
            fills = node.storage.load_fills(venue="kraken")
            assert sorted(f.trade_id for f in fills) == [
                "TSBX-00000001", "TSBX-00000002", "TSBX-00000003"
            ]  # fmt: skip
            assert sum((f.amount for f in fills), D(0)) == D("0.002")

            def filled() -> bool:
                [order] = node.storage.load_orders(venue="kraken")
                return order.status is OrderStatus.FILLED and order.filled == D("0.002")

            await eventually(filled, 10)
        finally:
            await node.stop()
            node.close()
