"""The sandbox reads `timestamp` and `recvWindow` of a signed request as Binance does: ASCII
digits only, a malformed one is -1100 naming that parameter (a bad recvWindow was reported as
a bad timestamp, and the current time in Arabic-Indic digits passed as a timestamp)."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse

import aiohttp
import pytest

from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _now() -> str:
    return str(int(time.time() * 1000))


async def _account(params: dict[str, str]) -> tuple[int, dict]:
    query = urllib.parse.urlencode(params)
    sig = hmac.new(ALICE_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    async with (
        seeded_exchange() as ex,
        aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http,
        http.get(f"{ex.base_url}/api/v3/account?{query}&signature={sig}") as resp,
    ):
        return resp.status, await resp.json()


@pytest.mark.parametrize("window", ["abc", "²", "1.5e3", "9" * 30])
async def test_a_malformed_recv_window_is_1100_naming_it(window: str) -> None:
    status, body = await _account({"timestamp": _now(), "recvWindow": window})
    assert status == 400, body
    assert body["code"] == -1100 and "'recvWindow'" in body["msg"]


@pytest.mark.parametrize("stamp", ["now-in-arabic-digits", "²", "12a", "9" * 5000])
async def test_a_malformed_timestamp_is_1100_naming_it(stamp: str) -> None:
    if stamp == "now-in-arabic-digits":
        stamp = _now().translate(ARABIC)
    status, body = await _account({"timestamp": stamp})
    assert status == 400, body
    assert body["code"] == -1100 and "'timestamp'" in body["msg"]


async def test_a_well_formed_timestamp_and_window_are_taken() -> None:
    status, body = await _account({"timestamp": _now(), "recvWindow": "10000"})
    assert status == 200 and "balances" in body
