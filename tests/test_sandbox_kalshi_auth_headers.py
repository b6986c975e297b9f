"""The local Kalshi refuses a malformed KALSHI-ACCESS-TIMESTAMP with its 401 answer, on REST and
on the WebSocket handshake: a timestamp of thousands of digits or of non-ASCII digits was a 500
(int() refusing what str.isdigit() let through), and Arabic-Indic digits passed as a time."""

from __future__ import annotations

import time

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from pm_support import seeded_kalshi
from tradeguard.sandbox.kalshi.server import PREFIX, KalshiExchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign

BAD_TIMESTAMPS = ["9" * 5000, "²", "١٧٠٠٠٠٠٠٠٠٠٠٠", "+1", " 1", "1.5", "0x10"]


@pytest.fixture
async def kalshi():
    ex = KalshiExchange("127.0.0.1", 0)
    key_id, pem = seeded_kalshi(ex)
    await ex.start()
    async with aiohttp.ClientSession() as http:
        yield ex, key_id, serialization.load_pem_private_key(pem.encode(), password=None), http
    await ex.stop()


@pytest.mark.parametrize("ts", BAD_TIMESTAMPS)
async def test_a_malformed_timestamp_is_a_401_not_a_500(kalshi, ts):
    ex, key_id, key, http = kalshi
    path = PREFIX + "/portfolio/balance"
    headers = {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "GET", path),
    }
    async with http.get(ex.base_url + path, headers=headers) as resp:
        body = await resp.json(content_type=None) if resp.status != 500 else {}
    assert resp.status == 401, body
    assert body["error"]["code"] == "authentication_error"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with http.ws_connect(ex.ws_url, headers=headers):
            pass
    assert refused.value.status == 401


async def test_the_current_time_in_non_ascii_digits_does_not_sign_in(kalshi):
    ex, key_id, key, http = kalshi
    path = PREFIX + "/portfolio/balance"
    ts = str(int(time.time() * 1000)).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    headers = {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "GET", path),
    }
    async with http.get(ex.base_url + path, headers=headers) as resp:
        assert resp.status == 401, await resp.text()


async def test_a_well_formed_timestamp_still_signs_in(kalshi):
    ex, key_id, key, http = kalshi
    path = PREFIX + "/portfolio/balance"
    ts = str(int(time.time() * 1000))
    headers = {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "GET", path),
    }
    async with http.get(ex.base_url + path, headers=headers) as resp:
        assert resp.status == 200
        assert "balance" in await resp.json()
