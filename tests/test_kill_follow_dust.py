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
    follow_up,
    held,
    kill_and_flatten,
    take_part,
)
from native_exits_support import native_config
from node_support import trading_live
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal


async def test_a_remainder_below_the_minimum_notional_is_not_sent(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(native_config(tmp_path, ex.rest_url, ex.ws_url, native=False))
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            # 0.00099 of the resting close fills; the venue expires the last 0.00001 (0.50 USD,
            # below its 5 USD minimum notional)
            take_part(ex, "0.00099")
            await eventually(lambda: node.orders.orders[listed].filled == D("0.00099"), 30)
            sells, rest = len(alice_sells(ex)), held(node)
            assert D(0) < rest < D("0.00002")  # 0.00001 and the fee taken in BTC
            expire_on_venue(ex, listed)
            await eventually(
                lambda: follow_up(node) and follow_up(node)[0]["status"] != "waiting", 60
            )
            [done] = follow_up(node)
            assert done["status"] == "closed" and done["sent"] == [], done
            assert "below what one order may sell" in done["reason"], done
            assert len(alice_sells(ex)) == sells
            assert held(node) == rest  # kept, and said so
