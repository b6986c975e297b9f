"""Catch-ups of the Kraken venue asked for close together (several subscriptions confirmed, each
watch's first message after a reconnect, the polling) run one at a time: a request arriving
while one runs makes exactly one more run after it, whatever the number of such requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kraken_support import Reports, carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    async with carol_venue(kx, stream_user_data=True) as v:
        v.order_poll_s, v.ws_backoff_s, v.ws_backoff_max_s = 3600, 0.05, 0.5
        yield v


def _buy(cid: str) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
        amount=D("0.002"), type=OrderType.LIMIT, price=D("50000"), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


class Counted:
    """Count the REST calls of one ccxt method, how many at once at most, and hold them at a
    gate while it is shut."""

    def __init__(self, client: Any, name: str) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self._real = getattr(client, name)
        setattr(client, name, self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            return await self._real(*args, **kwargs)
        finally:
            self.running -= 1


async def test_catch_ups_asked_while_one_runs_make_one_more_run(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    await eventually(lambda: not venue._side, timeout_s=10)  # the subscription's catch-up ran
    await venue.submit(_buy("tgcoalesce-1"))
    kx.trade_through("BTC/USD", "SELL", "50000", "0.001")
    await eventually(lambda: len(listener.fills) == 1, timeout_s=15)  # by stream
    listener.fills.clear()
    venue._polled.clear()  # as if the stream had missed it: a catch-up hands it over
    # OpenOrders is read by catch-ups only: Balance is read by the stream's balance updates too,
    # and the trade's update may be handled only now (a loaded machine), so it counts no runs.
    lookups = Counted(venue.client, "fetch_open_orders")
    orders = Counted(venue.client, "fetch_order")
    lookups.gate.clear()  # the first catch-up waits at its OpenOrders read
    first = asyncio.ensure_future(venue._catch_up())
    venue._on_balance({})  # a balance update meanwhile reads Balance, not as a catch-up
    await eventually(lambda: lookups.calls == 1, timeout_s=15)
    later = [asyncio.ensure_future(venue._catch_up()) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert lookups.calls == 1  # none starts while one runs
    lookups.gate.set()
    assert await asyncio.gather(first, *later) == [True] * 6
    assert lookups.calls == 2 and lookups.most_at_once == 1
    assert orders.calls == 2  # one QueryOrders per run for the one open order
    # the first run hands the fill over, the second knows it delivered it
    assert [(f.client_order_id, f.amount) for f in listener.fills] == [("tgcoalesce-1", D("0.001"))]
    assert await venue._catch_up() is True  # nothing in flight: a request runs at once
    assert lookups.calls == 3


async def test_a_reconnect_runs_its_catch_ups_one_at_a_time(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    await eventually(lambda: not venue._side, timeout_s=10)
    await venue.submit(_buy("tgcoalesce-2"))
    # OpenOrders is read by catch-ups only (the balance updates read Balance)
    lookups = Counted(venue.client, "fetch_open_orders")
    lookups.gate.clear()  # every catch-up the reconnect sets off is asked for meanwhile
    kx.faults.refuse_ws = True
    assert kx.disconnect_websockets() >= 1
    await eventually(lambda: not venue.stream_live(), timeout_s=15)
    kx.trade_through("BTC/USD", "SELL", "50000", "0.001")  # while it is down
    kx.faults.refuse_ws = False
    await eventually(lambda: lookups.calls >= 1, timeout_s=30)
    await asyncio.sleep(0.5)  # the other watches and the subscription answer meanwhile
    lookups.gate.set()
    await eventually(lambda: bool(listener.fills), timeout_s=10)
    await eventually(venue.stream_live, timeout_s=10)
    await eventually(lambda: not venue._side, timeout_s=10)
    assert lookups.most_at_once == 1
    assert lookups.calls <= 2, lookups.calls
    assert {(f.client_order_id, f.trade_id) for f in listener.fills} == {
        ("tgcoalesce-2", "TSBX-00000001")
    }
