"""The Binance-compatible sandbox takes order enums spelt as Binance does (capitals, known values)
and refuses the rest with Binance's codes and wording, placing nothing."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse

import aiohttp
import pytest

from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange


def _signed(params: dict[str, str]) -> str:
    query = urllib.parse.urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(ALICE_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


@pytest.fixture
async def sandbox():
    ex = seeded_exchange()
    await ex.start()
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http:
        yield ex.base_url, http
    await ex.stop()


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def _open_and_past(base: str, http: aiohttp.ClientSession) -> int:
    async with http.get(f"{base}/api/v3/allOrders?{_signed({'symbol': 'BTCUSDT'})}") as r:
        return len(await r.json())


@pytest.mark.parametrize(
    ("change", "code", "msg"),
    [
        ({"side": "buy"}, -1100,
         "Illegal characters found in parameter 'side'; legal range is 'BUY', 'SELL'."),
        ({"type": "market"}, -1116, "Invalid orderType."),
        ({"newOrderRespType": "EVERYTHING"}, -1100,
         "Illegal characters found in parameter 'newOrderRespType'; legal range is "
         "'ACK', 'RESULT', 'FULL'."),
        ({"newOrderRespType": "full"}, -1100,
         "Illegal characters found in parameter 'newOrderRespType'; legal range is "
         "'ACK', 'RESULT', 'FULL'."),
    ],
    ids=["side-lower", "type-lower", "resp-unknown", "resp-lower"],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/api/v3/order", "/api/v3/order/test"])
async def test_a_misspelt_order_enum_is_refused_as_binance_does(sandbox, change, code, msg, path):
    base, http = sandbox
    before = await _open_and_past(base, http)
    async with http.post(f"{base}{path}?{_signed({**ORDER, **change})}") as r:
        body = await r.json()
    assert r.status == 400 and body == {"code": code, "msg": msg}
    assert await _open_and_past(base, http) == before  # nothing placed


async def test_an_oco_with_a_lowercase_side_or_unknown_response_type_places_nothing(sandbox):
    base, http = sandbox
    oco = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.001", "aboveType": "LIMIT_MAKER",
           "abovePrice": "99000", "belowType": "STOP_LOSS", "belowStopPrice": "1000"}  # fmt: skip
    before = await _open_and_past(base, http)
    for change in ({"side": "sell"}, {"newOrderRespType": "X"}, {"aboveType": "limit_maker"}):
        async with http.post(f"{base}/api/v3/orderList/oco?{_signed({**oco, **change})}") as r:
            body = await r.json()
        assert r.status == 400 and body["code"] in (-1100, -1116), (change, body)
    assert await _open_and_past(base, http) == before


@pytest.mark.parametrize("resp", ["ACK", "RESULT", "FULL"])
async def test_each_binance_response_type_is_taken(sandbox, resp):
    base, http = sandbox
    async with http.post(
        f"{base}/api/v3/order?{_signed({**ORDER, 'newOrderRespType': resp})}"
    ) as r:
        body = await r.json()
    assert r.status == 200, body
    assert ("fills" in body) == (resp == "FULL") and ("status" in body) == (resp != "ACK")
