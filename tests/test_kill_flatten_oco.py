"""The kill switch's flatten against the sandbox venue (real ccxt): an OCO whose cancel failed
can sell its amount once, not once per leg."""

from __future__ import annotations

from decimal import Decimal

import pytest

from native_exits_support import live_alpha
from test_bot_close_oco import bot_coins_only
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.sandbox.testing import eventually

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


async def test_kill_flatten_counts_an_oco_it_could_not_cancel_once(tmp_path):
    ex = bot_coins_only()
    async with ex, live_alpha(tmp_path, ex) as node:
        buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"),
                                            OrderType.MARKET))  # fmt: skip
        assert buy.ok, buy.reason
        key = ("binance", "BTC/USDT", "manual")
        await eventually(lambda: key in node.portfolio.positions
                         and node.portfolio.positions[key].quantity > D("0.0019"))  # fmt: skip
        pos = node.portfolio.positions[key]
        # A take-profit and a stop for 0.001 of it, as one OCO: only one of them can fill.
        tp = OrderIntent("manual", "binance", "BTC/USDT", Side.SELL, D("0.001"),
                         OrderType.LIMIT, D("50500"), reduce_only=True)  # fmt: skip
        sl = OrderIntent("manual", "binance", "BTC/USDT", Side.SELL, D("0.001"),
                         OrderType.STOP_LOSS_LIMIT, D("49400"), trigger_price=D("49500"),
                         reduce_only=True)  # fmt: skip
        legs = await node.orders.submit_oco(tp, sl)
        assert all(r.ok for r in legs), [r.reason for r in legs]

        async def refuse(order):
            raise RuntimeError("the venue is not answering cancels")

        node.venues["binance"].cancel = refuse
        sellable = node.portfolio.sellable(pos)
        report = await node.kill(reason="flatten test", by="pytest", flatten=True)
        flattens = [o for o in node.orders.orders.values()
                    if o.signal.get("reason") == "kill switch flatten"]  # fmt: skip
        # The OCO sells at most 0.001: the flatten sells the rest of the position.
        assert [o.amount for o in flattens] == [sellable - D("0.001")], report
        assert report["closing"][0]["amount"] == "0.001"
