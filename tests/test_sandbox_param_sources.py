"""Where a signed request's parameters come from, as Binance documents it: a parameter sent
twice in the query (or twice in the body) is -1101 and places nothing (the sandbox took the
last value: an order ten times the first amount), and one sent in both the query and the body
takes the query's value (the sandbox took the body's)."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp

from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=40000"


def _sig(payload: str) -> str:
    return hmac.new(ALICE_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _ts() -> str:
    return f"timestamp={int(time.time() * 1000)}"


async def test_a_parameter_sent_twice_is_1101_and_places_nothing() -> None:
    async with (
        seeded_exchange() as ex,
        aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http,
    ):
        url = f"{ex.base_url}/api/v3/order"
        body = f"{ORDER}&quantity=0.01&quantity=0.1&{_ts()}"
        async with http.post(url, data=f"{body}&signature={_sig(body)}", headers=FORM) as r:
            assert r.status == 400 and (await r.json())["code"] == -1101
        query = f"{ORDER}&quantity=0.01&{_ts()}&quantity=0.1"
        async with http.post(f"{url}?{query}&signature={_sig(query)}") as r:
            assert r.status == 400 and (await r.json())["code"] == -1101
        alice = ex.auth.keys[ALICE_KEY].account_id
        assert [o for o in ex.engine.orders.values() if o.account_id == alice] == []


async def test_a_parameter_in_both_query_and_body_takes_the_querys_value() -> None:
    async with (
        seeded_exchange() as ex,
        aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http,
    ):
        query = f"{ORDER}&quantity=0.01&{_ts()}"
        body = "quantity=0.1"
        url = f"{ex.base_url}/api/v3/order?{query}&signature={_sig(query + body)}"
        async with http.post(url, data=body, headers=FORM) as r:
            answer = await r.json()
            assert r.status == 200, answer
        assert answer["origQty"] == "0.01000000"
