"""`quoteOrderQty` belongs to MARKET orders only: Binance answers any other order type that
sends it -1106 (sent when not required) and places nothing. The sandbox placed such orders and
echoed the ignored amount back as the order's `origQuoteOrderQty`."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import pytest

from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ORDERS = [
    "type=LIMIT&timeInForce=GTC&price=40000&quantity=0.01",
    "type=LIMIT_MAKER&price=40000&quantity=0.01",
    "type=STOP_LOSS&stopPrice=60000&quantity=0.01",
    "type=STOP_LOSS_LIMIT&timeInForce=GTC&stopPrice=60000&price=60000&quantity=0.01",
    "type=TAKE_PROFIT&stopPrice=40000&quantity=0.01",
]


@pytest.mark.parametrize("order", ORDERS)
async def test_quote_order_qty_on_an_order_not_market_is_1106_and_places_nothing(
    order: str,
) -> None:
    async with (
        seeded_exchange() as ex,
        aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http,
    ):
        body = (
            f"symbol=BTCUSDT&side=BUY&{order}&quoteOrderQty=1000"
            f"&timestamp={int(time.time() * 1000)}"
        )
        sig = hmac.new(ALICE_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
        url = f"{ex.base_url}/api/v3/order"
        async with http.post(url, data=f"{body}&signature={sig}", headers=FORM) as r:
            answer = await r.json()
        assert r.status == 400, answer
        assert answer == {"code": -1106, "msg": "Parameter 'quoteOrderQty' sent when not required."}
        alice = ex.auth.keys[ALICE_KEY].account_id
        assert [o for o in ex.engine.orders.values() if o.account_id == alice] == []
