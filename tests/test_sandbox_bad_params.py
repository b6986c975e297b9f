"""Malformed parameters to the sandbox exchange get Binance's JSON error answer, never a 500."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse

import aiohttp
import pytest

from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

BAD_INTS = ["nan", "1e400", "abc", "0x10", "1.5", "", "9" * 40]


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


HISTORY_PARAMS = [
    *(("/api/v3/allOrders", n) for n in ("limit", "orderId", "startTime")),
    *(("/api/v3/myTrades", n) for n in ("limit", "orderId", "startTime", "endTime", "fromId")),
]


@pytest.mark.parametrize(("path", "name"), HISTORY_PARAMS)
async def test_a_malformed_integer_in_a_history_query_is_binance_1100(sandbox, path, name):
    base, http = sandbox
    for value in BAD_INTS:
        query = _signed({"symbol": "BTCUSDT", name: value})
        async with http.get(f"{base}{path}?{query}") as resp:
            body = await resp.json()
        if value == "":
            assert resp.status == 200, body  # an empty parameter counts as absent
            continue
        assert resp.status == 400, (value, body)
        assert body["code"] == -1100 and name in body["msg"]


async def test_a_zero_history_limit_is_refused_and_a_large_one_is_capped(sandbox):
    base, http = sandbox
    async with http.get(
        f"{base}/api/v3/allOrders?{_signed({'symbol': 'BTCUSDT', 'limit': '0'})}"
    ) as r:
        assert r.status == 400 and (await r.json())["code"] == -1100
    query = _signed({"symbol": "BTCUSDT", "limit": "5000"})
    async with http.get(f"{base}/api/v3/allOrders?{query}") as r:
        assert r.status == 200 and await r.json() == []


@pytest.mark.parametrize("value", BAD_INTS[:-2])
async def test_a_malformed_depth_limit_is_binance_1100_not_a_500(sandbox, value):
    base, http = sandbox
    async with http.get(f"{base}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": value}) as r:
        body = await r.json()
    assert r.status == 400 and body["code"] == -1100, body


@pytest.mark.parametrize("path", ["/admin/faults", "/admin/replay", "/admin/book", "/admin/clock"])
@pytest.mark.parametrize("body", [b"[]", b"null", b'"x"', b"3"])
async def test_an_admin_body_that_is_not_an_object_is_a_400(sandbox, path, body):
    base, http = sandbox
    headers = {"Content-Type": "application/json"}
    async with http.post(f"{base}{path}", data=body, headers=headers) as r:
        answer = await r.json()
    assert r.status == 400 and "send a JSON object" in answer["error"]
