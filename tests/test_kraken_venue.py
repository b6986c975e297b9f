"""The ccxt venue on the Kraken sandbox: our client order ids as Kraken's cl_ord_id, orders found
and cancelled by them, an immediate-or-cancel order's fill booked as it is sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from kraken_support import Reports, carol_venue
from test_ccxt_support import RIG_TIMEOUT_MS, held_answer_timeout
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue, kraken_cl_ord_id

D = Decimal
LONG_CID = "tgabcdef-0123456789xyz"  # 22 characters: beyond Kraken's 18-character free text


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    async with carol_venue(kx, polled_market_data=True) as v:
        yield v


def _order(cid: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY, amount=D("0.002"),
        type=OrderType.LIMIT, price=D(price), time_in_force=tif,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


def test_short_ids_go_as_they_are_and_long_ones_as_a_stable_uuid() -> None:
    assert kraken_cl_ord_id("tg0a1b2c3d4e-1") == "tg0a1b2c3d4e-1"
    wire = kraken_cl_ord_id(LONG_CID)
    assert uuid.UUID(wire).version == 5 and wire == kraken_cl_ord_id(LONG_CID)
    assert kraken_cl_ord_id(LONG_CID + "0") != wire


async def test_long_client_id_is_found_and_cancelled_by_a_fresh_venue(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    report = await venue.submit(_order(LONG_CID, "40000"))
    assert (report.status, report.client_order_id) == (OrderStatus.ACCEPTED, LONG_CID)
    [resting] = kx.engine.open_orders(kx.account_id(CAROL_KEY))
    assert resting.client_order_id == kraken_cl_ord_id(LONG_CID)
    # a venue that never sent it (a restarted node) finds it by our id alone
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
    )
    fresh = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
    await fresh.connect()
    try:
        found = await fresh.fetch_order(LONG_CID, "BTC/USD")
        assert found is not None and found.venue_order_id == report.venue_order_id
        assert found.client_order_id == LONG_CID
        cancelled = await fresh.cancel(_order(LONG_CID, "40000"))
        assert (cancelled.status, cancelled.client_order_id) == (OrderStatus.CANCELLED, LONG_CID)
        assert await fresh.fetch_order("tgnever-sent-1", "BTC/USD") is None
    finally:
        await fresh.close()


async def test_ioc_order_comes_back_filled_with_its_fill(venue: KrakenCcxtVenue) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    report = await venue.submit(_order("tgioc-1", "50010", TimeInForce.IOC))
    assert (report.status, report.filled, report.avg_price) == (
        OrderStatus.FILLED, D("0.002"), D("50001"),
    )  # fmt: skip
    [fill] = listener.fills
    assert (fill.client_order_id, fill.trade_id, fill.fee, fill.fee_asset) == (
        "tgioc-1", "TSBX-00000001", D("0.2600052"), "USD",
    )  # fmt: skip
    assert [f.trade_id for f in await venue.fetch_fills("BTC/USD")] == ["TSBX-00000001"]
    balances = {b.asset: b.total for b in await venue.fetch_balances()}
    assert balances == {"BTC": D("1.002"), "USD": D("100000") - D("100.002") - D("0.2600052")}


async def test_rest_only_venue_has_its_market_data_polled(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    data = venue.market_data()
    assert data.streams() == set()  # the live hub polls every kind: nothing waits on a websocket
    quote = await data.fetch_quote("BTC/USD")
    assert (quote.bid, quote.ask) == (D("49999"), D("50001"))
    book = await data.fetch_book("BTC/USD", 5)
    assert book.asks[:2] == ((D("50001"), D("1")), (D("50002"), D("2")))
    kx.trade_through("BTC/USD", "BUY", "50001", "0.5")
    [candle] = await data.fetch_candles("BTC/USD", "1m", None, 10)
    assert (candle.close, candle.volume) == (D("50001"), D("0.5"))
    [tick] = await data.fetch_trades("BTC/USD", None)
    assert (tick.price, tick.amount, tick.side) == (D("50001"), D("0.5"), "buy")


async def test_an_add_order_answer_that_never_comes_is_resolved_by_client_id(
    kx: KrakenSandbox,
) -> None:
    kx.faults.update({"latency_after_ms_by_endpoint": {"/0/private/AddOrder": 5000}})
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url,
        timeout_ms=RIG_TIMEOUT_MS,
    )  # fmt: skip
    v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
    await v.connect()
    try:
        with pytest.raises(AmbiguousVenueError), held_answer_timeout(v.client, 1000):
            await v.submit(_order("tgslow-1", "50010", TimeInForce.IOC))
        found = await v.fetch_order("tgslow-1", "BTC/USD")  # executed though never answered
        assert found is not None
        assert (found.status, found.filled) == (OrderStatus.FILLED, D("0.002"))
        [fill] = await v.fetch_order_fills("tgslow-1", found.venue_order_id, "BTC/USD")
        assert (fill.client_order_id, fill.amount) == ("tgslow-1", D("0.002"))
    finally:
        await v.close()


async def test_a_rate_limit_answer_pauses_and_retries_the_request(kx: KrakenSandbox) -> None:
    kx.faults.update({"burst_429": 1})
    factory = ccxt_client_factory(
        "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
    )
    v = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=False)
    try:
        await v.load_instruments()  # the first request meets "EAPI:Rate limit exceeded"
        assert [op for op, _ in v.backoffs] == ["load_markets"]
        assert "BTC/USD" in v.instruments
    finally:
        await v.close()


async def test_a_resting_order_filled_later_is_reported_by_polling(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    listener = Reports()
    venue.set_listener(listener)  # type: ignore[arg-type]
    venue.order_poll_s = 0.05
    report = await venue.submit(_order("tgrest-1", "50000"))
    assert report.status is OrderStatus.ACCEPTED and listener.fills == []
    kx.trade_through("BTC/USD", "SELL", "50000", "0.002")
    await eventually(lambda: bool(listener.fills) and bool(listener.reports), timeout_s=30)
    await eventually(lambda: listener.reports[-1].status is OrderStatus.FILLED, timeout_s=30)
    assert {f.trade_id for f in listener.fills} == {"TSBX-00000001"}
    assert listener.fills[0].client_order_id == "tgrest-1"
