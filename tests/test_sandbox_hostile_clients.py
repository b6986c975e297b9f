"""Clients that send what a careless or hostile bot sends to the rehearsal venues: each gets the
venue's own refusal (never a 500, never an answer that is not JSON), and a well-formed request
the venue takes is not refused by the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from py_clob_client_v2.clob_types import OrderArgsV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from yarl import URL

from pm_support import TICKER, seeded_kalshi
from test_polymarket_sandbox import YES_TOKEN, _post_raw, started
from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.kalshi.server import PREFIX, KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign


def _strict_json(text: str) -> Any:
    """Parse as a strict JSON reader does: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _signed_as_sent(params: dict[str, str]) -> str:
    """The query as requests-based Binance clients build it: percent-encoded, then signed."""
    query = urllib.parse.urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(ALICE_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


@pytest.mark.parametrize(
    ("cid", "code"), [("bot:1/a", None), ("bot 1", -1100), ("bot☃", -1100), ("a&b=c", -1100)]
)
async def test_a_query_signed_percent_encoded_is_checked_as_sent(cid, code):
    # the signature was checked over the decoded query, so any client id needing an escape
    # ('bot:1/a' is one Binance allows) was refused as -1022 "signature not valid" instead of
    # being taken, or refused for its characters (-1100) as Binance does
    ex = seeded_exchange()
    await ex.start()
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.001", "price": "50000", "newClientOrderId": cid}  # fmt: skip
    try:
        async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http:
            url = URL(f"{ex.rest_url}/order?{_signed_as_sent(params)}", encoded=True)
            async with http.post(url) as r:
                answer = await r.json()
        if code is None:
            assert r.status == 200 and answer["clientOrderId"] == cid, answer
        else:
            assert r.status == 400 and answer["code"] == code, answer
            assert "newClientOrderId" in answer["msg"]
    finally:
        await ex.stop()


async def test_ccxt_places_and_finds_an_order_by_a_client_id_with_a_colon():
    ex = seeded_exchange()
    await ex.start()
    client = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
    try:
        await client.load_markets()
        order = await client.create_order(
            "BTC/USDT", "limit", "buy", 0.001, 50000, {"newClientOrderId": "bot:1/a"}
        )
        found = await client.fetch_order(order["id"], "BTC/USDT")
        assert found["clientOrderId"] == "bot:1/a" and found["status"] == "open"
    finally:
        await client.close()
        await ex.stop()


@pytest.mark.parametrize("rid", ["NaN", "Infinity", "1e999", '{"a": 1}', "-1", "true", "1.5"])
@pytest.mark.parametrize("path", ["/ws", "/ws-api/v3"])
async def test_a_websocket_request_id_binance_refuses_is_answered_in_strict_json(rid, path):
    # the id was echoed as given: NaN came back as a bare NaN token, which no strict JSON
    # reader (a browser, Go, Rust bots) can parse
    ex = seeded_exchange()
    await ex.start()
    try:
        url = ex.base_url.replace("http", "ws") + path
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            method = "LIST_SUBSCRIPTIONS" if path == "/ws" else "ping"
            await ws.send_str(f'{{"method": "{method}", "id": {rid}}}')
            answer = _strict_json((await asyncio.wait_for(ws.receive(), 5)).data)
            assert "error" in answer and answer["id"] is None, answer
            await ws.send_str(f'{{"method": "{method}", "id": "k-1"}}')  # still served
            answer = _strict_json((await asyncio.wait_for(ws.receive(), 5)).data)
            assert answer["id"] == "k-1" and "error" not in answer
    finally:
        await ex.stop()


@pytest.fixture
async def kalshi():
    ex = KalshiExchange("127.0.0.1", 0)
    key_id, pem = seeded_kalshi(ex)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    await ex.start()
    async with aiohttp.ClientSession() as http:

        async def post(path: str, data: str | None) -> tuple[int, dict]:
            ts = str(int(time.time() * 1000))
            headers = {
                "KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "POST", PREFIX + path),
            }  # fmt: skip
            async with http.post(ex.rest_url + path, data=data, headers=headers) as r:
                return r.status, await r.json()

        yield ex, post
    await ex.stop()


async def test_a_kalshi_post_with_no_body_is_a_400_not_a_500(kalshi):
    ex, post = kalshi
    status, body = await post("/portfolio/orders", None)
    assert status == 400 and body["error"]["code"] == "invalid_parameters"
    assert "empty" in body["error"]["message"]
    async with aiohttp.ClientSession() as http:
        for path in ("/admin/resolve", "/admin/faults"):
            async with http.post(ex.base_url + path) as r:
                assert r.status == 400 and "empty" in (await r.json())["error"]["message"]
    assert ex.markets[TICKER].status == "active"


@pytest.mark.parametrize(
    "change",
    [{"client_order_id": {"a": 1}}, {"client_order_id": 7}, {"post_only": "false"},
     {"client_order_id": 0}, {"client_order_id": False}, {"client_order_id": []},
     {"client_order_id": {}}],
)  # fmt: skip
async def test_a_kalshi_order_field_of_the_wrong_type_is_refused_not_guessed(kalshi, change):
    # a dict id was stored as its Python repr and "false" was taken as post-only; an id of
    # 0, false, [] or {} was taken as no id at all (the order placed, its retry not deduplicated)
    _, post = kalshi
    order = {"ticker": TICKER, "side": "yes", "action": "buy", "count": 1,
             "yes_price_dollars": "0.47", **change}  # fmt: skip
    status, body = await post("/portfolio/orders", json.dumps(order))
    assert status == 400 and body["error"]["code"] == "invalid_parameters"
    assert next(iter(change)) in body["error"]["message"]
    order.update(client_order_id="ok-1", post_only=False)  # the same order, well typed, fills
    status, body = await post("/portfolio/orders", json.dumps(order))
    assert status == 201 and body["order"]["client_order_id"] == "ok-1"


@pytest.mark.parametrize(("count", "count_fp"), [(10, "1.00"), (1, "10"), (True, "1.00")])
async def test_a_kalshi_count_that_disagrees_with_count_fp_is_refused_not_one_of_them_taken(
    kalshi, count, count_fp
):
    # Kalshi: when both the integer and the fixed-point count are given they must match; the
    # sandbox took count_fp and dropped count, so an order of 10 meant as 1 (or the reverse)
    # rested at the size the venue would have refused
    ex, post = kalshi
    order = {"ticker": TICKER, "side": "yes", "action": "buy", "count": count,
             "count_fp": count_fp, "yes_price_dollars": "0.30"}  # fmt: skip
    status, body = await post("/portfolio/orders", json.dumps(order))
    assert status == 400 and body["error"]["code"] == "invalid_parameters", body
    assert "count" in body["error"]["message"]
    assert not [o for o in ex.book.resting(TICKER) if o.account != "house"]
    order.update(count=1, count_fp="1.00")  # agreeing, the order is taken
    status, body = await post("/portfolio/orders", json.dumps(order))
    assert status == 201 and body["order"]["initial_count_fp"] == "1.00", body


@pytest.mark.parametrize(
    ("where", "value", "says"),
    [("owner", "someone-else", "owner"), ("postOnly", "false", "postOnly"),
     ("expiration", "NaN", "expiration")],
)  # fmt: skip
async def test_a_polymarket_order_the_clob_refuses_is_refused_and_nothing_rests(where, value, says):
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        signed = await asyncio.to_thread(
            client.create_order, OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY")
        )
        payload = order_to_json_v2(signed, client.creds.api_key, "GTC")
        good = json.loads(json.dumps(payload))
        if where == "expiration":
            payload["order"][where] = value
        else:
            payload[where] = value
        status, body = await asyncio.to_thread(_post_raw, client, payload)
        assert status == 400 and says in body["error"], body
        assert await asyncio.to_thread(client.get_open_orders) == []
        status, body = await asyncio.to_thread(_post_raw, client, good)
        assert status == 200 and body["status"] == "live"


@pytest.mark.parametrize("data", [b"", b"[1]", b'{"condition_id": ["x"], "result": "yes"}'])
async def test_a_polymarket_admin_call_with_a_malformed_body_is_a_400_not_a_500(data):
    async with PolymarketExchange() as ex:
        market, _, _ = await started(ex)
        async with aiohttp.ClientSession() as http:
            for path in ("/admin/resolve", "/admin/faults"):
                async with http.post(ex.url + path, data=data) as r:
                    answer = await r.json()
                if path == "/admin/faults" and data.startswith(b"{"):
                    assert r.status == 400 and "condition_id" in answer["error"]
                    continue
                assert r.status in (400, 404) and "error" in answer, (path, data, answer)
        assert not market.resolved
