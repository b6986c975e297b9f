"""Kraken never lets an account trade with itself (AddOrder's stptype, cancel-newest by
default): an arriving order that reaches its own account's resting order is cancelled there.
A self-trade on the sandbox came back as one trade row seen from the buy side, so the resting
sell's fill was read as a buy of the other order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kraken_support import carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, DAVE_KEY
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    async with carol_venue(kx) as v:
        yield v


def _order(cid: str, side: Side, amount: str, price: str, tif: TimeInForce) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=side, amount=D(amount),
        type=OrderType.LIMIT, price=D(price), time_in_force=tif,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


async def test_an_order_reaching_its_own_resting_order_is_cancelled_there(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    sell = await venue.submit(_order("tgown-s", Side.SELL, "0.002", "50001.5", TimeInForce.GTC))
    # the buy takes the house's 1 BTC at 50,001, then meets Carol's own sell at 50,001.5
    buy = await venue.submit(_order("tgown-b", Side.BUY, "1.5", "50002", TimeInForce.GTC))
    assert (buy.status, buy.filled) == (OrderStatus.CANCELLED, D("1"))
    fills = await venue.fetch_order_fills("tgown-b", buy.venue_order_id, "BTC/USD")
    assert [(f.side, f.amount, f.price) for f in fills] == [(Side.BUY, D("1"), D("50001"))]
    resting = await venue.fetch_order("tgown-s", "BTC/USD")
    assert resting is not None and (resting.status, resting.filled) == (OrderStatus.ACCEPTED, 0)
    assert await venue.fetch_order_fills("tgown-s", sell.venue_order_id, "BTC/USD") == []
    assert all(t.buyer_account != t.seller_account for t in kx.engine.trades["BTCUSD"])
    # the cancelled rest of the buy released its lock (and its fee)
    assert kx.balances(CAROL_KEY)["USD"][1] == 0
    # another account still trades with Carol's sell
    kx.engine.place(
        kx.account_id(DAVE_KEY), "BTCUSD", "BUY", "LIMIT", kx.now_ms(), qty=D("0.002"),
        price=D("50001.5"), time_in_force="IOC",
    )  # fmt: skip
    filled = await venue.fetch_order("tgown-s", "BTC/USD")
    assert filled is not None and filled.status is OrderStatus.FILLED
