"""An order whose AddOrder answer never came is found by our client id even behind more than a
page (50) of the account's closed orders, open or closed itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from test_ccxt_support import RIG_TIMEOUT_MS, held_answer_timeout
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal


def _buy(cid: str, price: str, tif: TimeInForce) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY, amount=D("0.001"),
        type=OrderType.LIMIT, price=D(price), time_in_force=tif,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


@pytest.mark.parametrize(("price", "status"), [("50010", OrderStatus.FILLED), ("40000", None)])
async def test_an_unanswered_order_is_found_behind_a_page_of_closed_orders(
    price: str, status: OrderStatus | None
) -> None:
    async with seeded_kraken() as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url,
            timeout_ms=RIG_TIMEOUT_MS,
        )  # fmt: skip
        v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
        await v.connect()
        try:
            for i in range(60):  # each ends unfilled (IOC below the ask): a closed order
                report = await v.submit(_buy(f"tgold-{i}", "40000", TimeInForce.IOC))
                assert report.status is OrderStatus.EXPIRED
            kx.faults.update({"latency_after_ms_by_endpoint": {"/0/private/AddOrder": 5000}})
            tif = TimeInForce.IOC if status is OrderStatus.FILLED else TimeInForce.GTC
            with pytest.raises(AmbiguousVenueError), held_answer_timeout(v.client, 1000):
                await v.submit(_buy("tglost-1", price, tif))
            kx.faults.reset()
            found = await v.fetch_order("tglost-1", "BTC/USD")
            assert found is not None and found.client_order_id == "tglost-1"
            assert found.status is (status or OrderStatus.ACCEPTED)
            assert await v.fetch_order("tgold-0", "BTC/USD") is not None  # the oldest closed
        finally:
            await v.close()
