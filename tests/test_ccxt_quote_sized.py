"""Exchanges whose ccxt market buy spends a quote amount (Coinbase here): a protected market
order goes out as an IOC limit for the base amount at the bound, and a plain market buy is
refused before anything is sent, never sent as a quote amount equal to the base amount.

The real ccxt Coinbase client talks HTTP to a recorder on 127.0.0.1 that keeps each request and
answers Coinbase's error shape (Coinbase itself is beyond this machine)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest
from aiohttp import web

from tradeguard.clock import Clock
from tradeguard.model import DefinitiveVenueError, Order, OrderType, Side
from tradeguard.model.errors import VenueError
from tradeguard.model.instrument import Instrument
from tradeguard.venues.ccxt_venue import CcxtVenue

D = Decimal
MARKET = {
    "id": "BTC-USD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD", "baseId": "BTC",
    "quoteId": "USD", "type": "spot", "spot": True, "active": True,
    "precision": {"amount": 0.00000001, "price": 0.01},
    "limits": {"amount": {}, "price": {}, "cost": {}}, "info": {},
}  # fmt: skip


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def orders(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "body": json.loads(await request.text())})
        return web.json_response(
            {"error": "INVALID_ARGUMENT", "message": "recorded, not traded"}, status=400
        )

    app = web.Application()
    app.router.add_post("/api/v3/brokerage/orders", orders)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def _venue(url: str, market_orders: str) -> CcxtVenue:
    def factory() -> Any:
        client = ccxt.coinbase({"apiKey": "recorder-key", "secret": "recorder-secret"})
        client.urls["api"] = {"rest": url}
        client.set_markets([MARKET])
        return client

    venue = CcxtVenue("cb", factory, Clock(), market_orders=market_orders)
    venue.instruments["BTC/USD"] = Instrument(
        venue="cb", symbol="BTC/USD", base="BTC", quote="USD", price_tick=D("0.01"),
        amount_step=D("0.00000001"),
    )  # fmt: skip
    return venue


def _buy(bound: str | None = "50500") -> Order:
    order = Order("tg-cb-1", "s", "cb", "BTC/USD", Side.BUY, OrderType.MARKET, D("0.01"))
    order.price_bound = None if bound is None else D(bound)
    return order


async def test_a_protected_market_buy_is_an_ioc_limit_for_the_base_amount(recorder) -> None:
    url, seen = recorder
    venue = _venue(url, "protected")
    assert venue.quote_sized_market_buy
    try:
        with pytest.raises(VenueError):
            await venue.submit(_buy())
    finally:
        await venue.client.close()
    [request] = seen
    assert request["body"]["client_order_id"] == "tg-cb-1"  # ours, for recovery by id
    assert request["body"]["side"] == "BUY"
    assert request["body"]["order_configuration"] == {
        "sor_limit_ioc": {"base_size": "0.01", "limit_price": "50500"}
    }


async def test_a_plain_market_buy_is_refused_before_sending_where_it_would_spend_quote(
    recorder,
) -> None:
    url, seen = recorder
    venue = _venue(url, "market")
    try:
        with pytest.raises(
            DefinitiveVenueError,
            match=r"coinbase sizes a market buy in USD, not "
            r"in BTC: buy 0.01 BTC would be sent as a quote amount",
        ) as refused:
            await venue.submit(_buy())
        assert refused.value.code == "MARKET_BUY_QUOTE_SIZED"
        with pytest.raises(DefinitiveVenueError, match="no protective price bound"):
            await _venue(url, "protected").submit(_buy(None))
    finally:
        await venue.client.close()
    assert seen == []  # nothing reached the exchange
