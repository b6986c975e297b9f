"""A close the kill waited for that ends nearly filled leaves a remainder below what one order
may sell (the venue's minimum notional): the follow-up says so and sends nothing, rather than
orders the venue must refuse and a critical "failed". Sandbox venue (real ccxt)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kill_follow_support import (
    alice_sells,
    expire_on_venue,
    follow_node,
    held,
    kill_with_a_close_resting,
)
from native_exits_support import native_config
from node_support import trading_live
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


def _follow(node: TradingNode) -> list[dict]:
    last = node.risk.last_kill or {}
    return list(last.get("follow_up") or [])


async def test_a_remainder_below_the_minimum_notional_is_not_sent(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            listed, _ = await kill_with_a_close_resting(node)
            await eventually(lambda: held(node) < D("0.0011"), 30)  # the kill's flatten filled
            # 0.00099 of the resting close fills; the venue expires the last 0.00001 (0.50 USD,
            # below its 5 USD minimum notional)
            ex.set_book("BTC/USDT", bids=[("50500", "0.00099"), ("49999", "1")],
                        asks=[("50501", "1")])  # fmt: skip
            ex.set_book("BTC/USDT", bids=[("49999", "1"), ("49998", "2")],
                        asks=[("50001", "1"), ("50002", "2")])  # fmt: skip
            await eventually(lambda: node.orders.orders[listed].filled == D("0.00099"), 30)
            sells, rest = len(alice_sells(ex)), held(node)
            assert D(0) < rest < D("0.00002")  # 0.00001 and the fee taken in BTC
            expire_on_venue(ex, listed)
            await eventually(lambda: _follow(node) and _follow(node)[0]["status"] != "waiting", 60)
            [done] = _follow(node)
            assert done["status"] == "closed" and done["sent"] == [], done
            assert "below what one order may sell" in done["reason"], done
            assert len(alice_sells(ex)) == sells
            assert held(node) == rest  # kept, and said so
