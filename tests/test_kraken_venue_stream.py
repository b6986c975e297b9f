"""The Kraken venue on the sandbox's private websocket v2: fills, order states and balances by
stream (no polling while it is live), polling while it is refused or dropped, a REST catch-up at
each confirmed subscription, and one trade id per fill whichever way it came."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kraken_support import Reports, carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.ws_conn import Refused
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal


class Booked(Reports):
    """A listener keeping the balances too."""

    def __init__(self) -> None:
        super().__init__()
        self.balances: list[object] = []

    def on_balances(self, venue: str, balances: object) -> None:
        self.balances.append(balances)


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    async with carol_venue(kx, stream_user_data=True) as v:
        v.order_poll_s, v.ws_backoff_s, v.ws_backoff_max_s = 0.05, 0.05, 0.5
        yield v


def _buy(cid: str, amount: str) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
        amount=D(amount), type=OrderType.LIMIT, price=D("50000"), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


def _count(venue: KrakenCcxtVenue, name: str) -> list[int]:
    calls = [0]
    real = getattr(venue.client, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await real(*args, **kwargs)

    setattr(venue.client, name, counted)
    return calls


async def test_fills_states_and_balances_come_by_stream_without_polling(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Booked()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    report = await venue.submit(_buy("tgstream-1", "0.002"))
    assert report.status is OrderStatus.ACCEPTED
    queries = _count(venue, "fetch_order")
    await asyncio.sleep(0.3)  # six polling periods: none queries while the stream is live
    assert queries[0] == 0
    kx.trade_through("BTC/USD", "SELL", "50000", "0.0005")
    kx.trade_through("BTC/USD", "SELL", "50000", "0.0015")
    await eventually(lambda: len(listener.fills) == 2, timeout_s=5)
    await eventually(
        lambda: any(r.status is OrderStatus.FILLED for r in listener.reports), timeout_s=5
    )
    assert queries[0] == 0  # both fills and the end came by stream
    assert {f.client_order_id for f in listener.fills} == {"tgstream-1"}
    assert sum((f.amount for f in listener.fills), D(0)) == D("0.002")
    rest = await venue.fetch_order_fills("tgstream-1", report.venue_order_id, "BTC/USD")
    assert sorted(f.trade_id for f in rest) == sorted(f.trade_id for f in listener.fills)
    assert [(f.fee, f.fee_asset) for f in rest] == [
        (f.fee, f.fee_asset) for f in sorted(listener.fills, key=lambda f: f.trade_id)
    ]
    filled = [r for r in listener.reports if r.status is OrderStatus.FILLED]
    assert filled[-1].filled == D("0.002") and filled[-1].client_order_id == "tgstream-1"
    await eventually(lambda: bool(listener.balances), timeout_s=5)  # read with their holds


async def test_a_refused_stream_is_stood_in_for_by_polling_then_taken_back(
    kx: KrakenSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = kx.kraken_ws_private._account

    def refuse(conn: Any, params: dict[str, Any]) -> str:
        raise Refused("ESession:Invalid session")

    monkeypatch.setattr(kx.kraken_ws_private, "_account", refuse)
    async with carol_venue(kx, stream_user_data=True) as venue:
        venue.order_poll_s, venue.ws_backoff_s, venue.ws_backoff_max_s = 0.05, 0.05, 0.2
        listener = Booked()
        venue.set_listener(listener)  # type: ignore[arg-type]
        await eventually(lambda: venue.reconnects >= 1, timeout_s=10)  # refused, retried
        assert not venue.stream_live()
        await venue.submit(_buy("tgrefused-1", "0.001"))
        kx.trade_through("BTC/USD", "SELL", "50000", "0.001")
        await eventually(lambda: len(listener.fills) == 1, timeout_s=10)  # polled
        monkeypatch.setattr(kx.kraken_ws_private, "_account", real)
        await eventually(venue.stream_live, timeout_s=10)
        await venue.submit(_buy("tgrefused-2", "0.001"))
        kx.trade_through("BTC/USD", "SELL", "50000", "0.001")
        await eventually(lambda: len(listener.fills) >= 2, timeout_s=10)
        # the stream's fill and the REST catch-up after the retry may both hand it on: the
        # same trade id, which the journal books once
        booked = {(f.client_order_id, f.trade_id, f.amount) for f in listener.fills}
        assert sorted(c for c, _, _ in booked) == ["tgrefused-1", "tgrefused-2"]


async def test_a_fill_made_while_the_stream_is_down_is_caught_up_once_it_is_back(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Booked()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    venue.order_poll_s = 3600  # no polling: only the catch-up can find it
    await asyncio.sleep(0.2)  # the poller's short sleep is over, its long one begun
    await venue.submit(_buy("tgdown-1", "0.001"))
    kx.faults.refuse_ws = True
    assert kx.disconnect_websockets() >= 1
    await eventually(lambda: not venue.stream_live(), timeout_s=5)
    kx.trade_through("BTC/USD", "SELL", "50000", "0.001")  # while it is down
    await asyncio.sleep(0.2)
    assert listener.fills == []
    kx.faults.refuse_ws = False
    await eventually(lambda: bool(listener.fills), timeout_s=30)
    await eventually(venue.stream_live, timeout_s=10)
    # Every catch-up (the confirmed subscription's, each watch's first message after its
    # failure) and the trade snapshot when ccxt's watch_my_trades subscribed first may hand the
    # fill on: one trade id, which the journal books once.
    assert _booked(listener) == {("tgdown-1", "TSBX-00000001", D("0.001"))}


def _booked(listener: Booked) -> set[tuple[str, str, Decimal]]:
    """The fills as the journal keeps them: one per trade id."""
    return {(f.client_order_id, f.trade_id, f.amount) for f in listener.fills}


async def test_a_catch_up_that_failed_is_retried_by_polling_though_the_stream_is_back(
    kx: KrakenSandbox, venue: KrakenCcxtVenue, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = Booked()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    await venue.submit(_buy("tgowed-1", "0.001"))
    # The fill lies beyond the trade snapshot (Kraken's holds the last 50): REST alone has it.
    monkeypatch.setattr(kx.kraken_ws_private, "_account_trades", lambda account: [])
    real_balances = venue.fetch_balances

    async def unreachable() -> Any:  # the catch-up's first REST read
        raise AmbiguousVenueError("kraken", "fetch_balances: connection reset", "NETWORK")

    monkeypatch.setattr(venue, "fetch_balances", unreachable)
    kx.faults.refuse_ws = True
    assert kx.disconnect_websockets() >= 1
    await eventually(lambda: not venue.stream_live(), timeout_s=10)
    kx.trade_through("BTC/USD", "SELL", "50000", "0.001")  # while it is down
    confirmed: list[int] = []
    real_caught_up = venue._caught_up

    async def caught_up() -> None:
        await real_caught_up()
        confirmed.append(1)

    monkeypatch.setattr(venue, "_caught_up", caught_up)
    kx.faults.refuse_ws = False
    stream = venue.user_stream
    assert stream is not None

    def socket_back() -> bool:
        return bool(confirmed) and stream.connected and not venue._failing

    await eventually(socket_back, timeout_s=30)  # subscribed again, its catch-up failed
    assert listener.fills == []
    monkeypatch.setattr(venue, "fetch_balances", real_balances)  # REST answers again
    await eventually(lambda: bool(listener.fills), timeout_s=10)
    assert _booked(listener) == {("tgowed-1", "TSBX-00000001", D("0.001"))}
    await eventually(venue.stream_live, timeout_s=10)  # caught up: the stream is trusted again


async def test_jobs_the_stream_sets_off_are_let_go_once_done(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Booked()
    venue.set_listener(listener)  # type: ignore[arg-type]
    await eventually(venue.stream_live, timeout_s=10)
    kept = len(venue._tasks)
    for n in range(1, 21):  # a long-running node: one balance read per balances update
        venue._on_balance({})
        read = venue._balance_read
        assert read is not None
        await eventually(read.done, timeout_s=5)
        await eventually(lambda n=n: len(listener.balances) >= n, timeout_s=5)  # type: ignore[misc]
    assert len(venue._tasks) == kept
    assert not getattr(venue, "_side", ())
