"""The sandbox as a public rehearsal venue: one client cannot rest orders without end.

Binance's MAX_NUM_ORDERS filter (200 open orders per account and symbol), through real ccxt.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.order_caps import MAX_NUM_ORDERS
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, BOB_KEY, BOB_SECRET


async def _client(ex: SandboxExchange, key: str, secret: str) -> Any:
    c = make_ccxt_client(ex, key, secret, enable_rate_limit=False)
    await c.load_markets()
    return c


async def _rest(client: Any, n: int) -> list[str]:
    ids = []
    for i in range(n):
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.0002, 40_000 - i)
        ids.append(order["id"])
    return ids


async def test_the_order_over_max_num_orders_is_refused_and_frees_up_on_cancel(ex):
    alice = await _client(ex, ALICE_KEY, ALICE_SECRET)
    bob = await _client(ex, BOB_KEY, BOB_SECRET)
    try:
        ids = await _rest(alice, MAX_NUM_ORDERS)
        with pytest.raises(ccxt.BadRequest, match="Filter failure: MAX_NUM_ORDERS"):
            await alice.create_order("BTC/USDT", "limit", "buy", 0.0002, 30_000)
        oco = {
            "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.0002",
            "aboveType": "LIMIT_MAKER", "abovePrice": "60000",
            "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "45000", "belowPrice": "44900",
            "belowTimeInForce": "GTC",
        }  # fmt: skip
        with pytest.raises(ccxt.BadRequest, match="MAX_NUM_ORDERS"):
            await alice.private_post_orderlist_oco(oco)
        assert len(await alice.fetch_open_orders("BTC/USDT")) == MAX_NUM_ORDERS
        # Another account is not held back by Alice's orders.
        assert (await _rest(bob, 1)) != []
        # A cancelled order and a filled one leave the count.
        await alice.cancel_order(ids[0], "BTC/USDT")
        await alice.cancel_order(ids[1], "BTC/USDT")
        filled = await alice.create_order("BTC/USDT", "market", "buy", 0.0002)
        assert filled["status"] == "closed"
        await alice.private_post_orderlist_oco(oco)
        with pytest.raises(ccxt.BadRequest, match="MAX_NUM_ORDERS"):
            await alice.create_order("BTC/USDT", "limit", "buy", 0.0002, 30_000)
    finally:
        await alice.close()
        await bob.close()


async def test_exchange_info_publishes_the_filter(ex):
    alice = await _client(ex, ALICE_KEY, ALICE_SECRET)
    try:
        info = await alice.public_get_exchangeinfo()
    finally:
        await alice.close()
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert filters["MAX_NUM_ORDERS"]["maxNumOrders"] == MAX_NUM_ORDERS
