"""Bots' stop-loss and take-profit resting on the (sandbox) venue as an OCO, via the real ccxt."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from native_exits_support import (
    KEY,
    add_alpha,
    bot_qty,
    enter,
    native_config,
    sandbox_lists,
    vault_env,  # noqa: F401  (a fixture)
)
from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")


async def test_a_bot_entry_with_sl_and_tp_becomes_an_oco_that_the_sandbox_triggers(tmp_path):
    ex = seeded_exchange()
    async with ex:
        node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url))
        add_alpha(node)
        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=60))
        try:
            await eventually(lambda: node.market.mid("BTC/USDT") == Decimal(50000))
            trade = await enter(node, stop_loss_pct="2", take_profit_pct="5")
            assert trade["status"] == "submitted", trade
            await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
            plan = node.bot_exits.plans[KEY]
            tp, sl = (node.storage.get_order(cid) for cid in plan.native_orders)
            assert tp is not None and sl is not None
            assert (tp.type, sl.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)
            assert tp.oco_group == sl.oco_group != ""
            entry = node.portfolio.positions[("binance", "BTC/USDT", "alpha")].avg_entry
            assert sl.trigger_price == (entry * Decimal("0.98")).quantize(Decimal("0.01"))
            assert tp.trigger_price == (entry * Decimal("1.05")).quantize(Decimal("0.01"))
            assert sl.reduce_only and sl.amount == bot_qty(node)
            assert sandbox_lists(ex) == [["NEW", "NEW"]]

            # The sandbox's own trades fall through the stop: it fires and sells on the venue.
            ex.set_book("BTCUSDT", bids=[("48500", "5")], asks=[("48510", "5")])
            ex.trade_through("BTCUSDT", "SELL", "48500", "0.001")
            await eventually(lambda: bot_qty(node) == 0)
            await eventually(lambda: KEY not in node.bot_exits.plans)
            assert node.orders.orders[sl.client_order_id].status is OrderStatus.FILLED
            await eventually(
                lambda: node.orders.orders[tp.client_order_id].status is OrderStatus.CANCELLED
            )
            assert node.storage.get_order(sl.client_order_id).status is OrderStatus.FILLED
            assert sandbox_lists(ex) == [["FILLED", "CANCELED"]]
        finally:
            node.request_stop()
            await live
            await node.stop()
            node.close()
