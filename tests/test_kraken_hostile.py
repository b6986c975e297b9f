"""The Kraken sandbox under hostile private and public requests: headers, nonces and form or
query fields a real client never sends get Kraken's error strings, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any

import aiohttp
import pytest

from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET


async def _post(
    kx: KrakenSandbox, path: str, nonce: str, fields: dict[str, str], sign: str | None = None
) -> tuple[int, Any]:
    """A private call signed by Kraken's documented recipe (or with `sign` as API-Sign)."""
    body = urllib.parse.urlencode({"nonce": nonce, **fields})
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(CAROL_SECRET), path.encode() + digest, hashlib.sha512)
    headers = {
        "API-Key": CAROL_KEY,
        "API-Sign": sign if sign is not None else base64.b64encode(mac.digest()).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(kx.base_url + path, data=body.encode(), headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None) if r.status == 200 else await r.text()


async def test_a_non_ascii_signature_is_an_invalid_signature(kx: KrakenSandbox) -> None:
    status, doc = await _post(kx, "/0/private/Balance", str(time.time_ns()), {}, sign="é" * 88)
    assert (status, doc) == (200, {"error": ["EAPI:Invalid signature"]})


@pytest.mark.parametrize("nonce", ["²", "١٢٣٤", "9" * 5000, str(2**64), "1e9", "-5", ""])
async def test_a_nonce_outside_unsigned_64_bit_digits_is_an_invalid_nonce(
    kx: KrakenSandbox, nonce: str
) -> None:
    status, doc = await _post(kx, "/0/private/Balance", nonce, {})
    assert (status, doc) == (200, {"error": ["EAPI:Invalid nonce"]})
    # the key still answers to an ordinary nonce afterwards
    status, doc = await _post(kx, "/0/private/Balance", str(time.time_ns()), {})
    assert status == 200 and doc["error"] == []


async def test_the_largest_unsigned_64_bit_nonce_is_taken_once(kx: KrakenSandbox) -> None:
    top = str(2**64 - 1)
    assert (await _post(kx, "/0/private/Balance", top, {}))[1]["error"] == []
    assert (await _post(kx, "/0/private/Balance", top, {}))[1]["error"] == ["EAPI:Invalid nonce"]


@pytest.mark.parametrize("path", ["/0/private/ClosedOrders", "/0/private/TradesHistory"])
@pytest.mark.parametrize("ofs", ["1e200000", "2.5", "٣", "9" * 40])
async def test_a_page_offset_must_be_a_plain_integer(
    kx: KrakenSandbox, path: str, ofs: str
) -> None:
    status, doc = await _post(kx, path, str(time.time_ns()), {"ofs": ofs})
    assert (status, doc) == (200, {"error": ["EGeneral:Invalid arguments:ofs"]})


async def test_a_page_offset_of_digits_pages(kx: KrakenSandbox) -> None:
    status, doc = await _post(kx, "/0/private/ClosedOrders", str(time.time_ns()), {"ofs": "50"})
    assert status == 200 and doc == {"error": [], "result": {"closed": {}, "count": 0}}


@pytest.mark.parametrize(
    "query",
    ["Depth?pair=XBTUSD&count=²", "Depth?pair=XBTUSD&count=--1", "OHLC?pair=XBTUSD&since=٣"],
)
async def test_public_integer_parameters_refuse_what_is_not_digits(
    kx: KrakenSandbox, query: str
) -> None:
    name = query.rsplit("&", 1)[1].split("=")[0]
    async with aiohttp.ClientSession() as http, http.get(f"{kx.base_url}/0/public/{query}") as r:
        assert r.status == 200
        assert await r.json() == {"error": [f"EGeneral:Invalid arguments:{name}"]}


_LIMIT_BUY = {"type": "buy", "ordertype": "limit", "price": "40000", "volume": "0.01"}


@pytest.mark.parametrize("tail", ["\n", "\r\n", " ", "\x00"])
async def test_an_id_or_name_with_a_trailing_control_or_space_is_invalid_arguments(
    kx: KrakenSandbox, tail: str
) -> None:
    """As the Binance sandbox refuses `BTCUSDT\\n` with -1100: a regex `$` let `abc\\n` through
    as a cl_ord_id and `5\\n` as a Depth count, and a txid or pair so written was looked up."""
    n = lambda: str(time.time_ns())  # noqa: E731
    placed = (await _post(kx, "/0/private/AddOrder", n(), {"pair": "XBTUSD", **_LIMIT_BUY}))[1]
    tx = placed["result"]["txid"][0]
    calls = [
        ("AddOrder", {"pair": "XBTUSD" + tail, **_LIMIT_BUY}, "pair"),
        ("AddOrder", {"pair": "XBTUSD", **_LIMIT_BUY, "cl_ord_id": "abc" + tail}, "cl_ord_id"),
        ("QueryOrders", {"txid": tx + tail}, "txid"),
        ("CancelOrder", {"txid": tx + tail}, "txid"),
        ("QueryTrades", {"txid": "TSBX-00000001" + tail}, "txid"),
        ("TradesHistory", {"start": "TSBX-00000001" + tail}, "start"),
    ]
    for method, fields, name in calls:
        doc = (await _post(kx, f"/0/private/{method}", n(), fields))[1]
        assert doc == {"error": [f"EGeneral:Invalid arguments:{name}"]}, (method, fields)
    quoted = urllib.parse.quote(tail)
    async with aiohttp.ClientSession() as http:
        for query, name in [
            (f"Ticker?pair=XBTUSD{quoted}", "pair"),
            (f"Depth?pair=XBTUSD&count=5{quoted}", "count"),
            (f"OHLC?pair=XBTUSD&interval=1{quoted}", "interval"),
        ]:
            async with http.get(f"{kx.base_url}/0/public/{query}") as r:
                doc = await r.json()
            assert doc == {"error": [f"EGeneral:Invalid arguments:{name}"]}, query
    # the order is still there and open: nothing above touched it
    doc = (await _post(kx, "/0/private/QueryOrders", n(), {"txid": tx}))[1]
    assert doc["result"][tx]["status"] == "open"


async def test_a_list_of_ids_or_pairs_longer_than_one_id_is_taken(kx: KrakenSandbox) -> None:
    """The 1..64 character rule is each id's or pair's, not the comma-separated list's: ccxt
    sends QueryTrades up to 20 trade txids at once and Ticker every pair asked."""
    n = lambda: str(time.time_ns())  # noqa: E731
    placed = (await _post(kx, "/0/private/AddOrder", n(), {"pair": "XBTUSD", **_LIMIT_BUY}))[1]
    tx = placed["result"]["txid"][0]
    doc = (await _post(kx, "/0/private/QueryOrders", n(), {"txid": ",".join([tx] * 5)}))[1]
    assert list(doc["result"]) == [tx]
    trades = ",".join(f"TSBX-{i:08d}" for i in range(1, 20))  # 265 characters
    assert (await _post(kx, "/0/private/QueryTrades", n(), {"txid": trades}))[1] == {
        "error": [],
        "result": {},
    }
    bad = (await _post(kx, "/0/private/QueryTrades", n(), {"txid": trades + ",TSBX-1\n"}))[1]
    assert bad == {"error": ["EGeneral:Invalid arguments:txid"]}
    async with aiohttp.ClientSession() as http:
        pairs = ",".join(["XBTUSD"] * 10)  # 69 characters
        async with http.get(f"{kx.base_url}/0/public/Ticker?pair={pairs}") as r:
            doc = await r.json()
        assert doc["error"] == [] and len(doc["result"]) == 1
        async with http.get(f"{kx.base_url}/0/public/Ticker?pair={pairs},XBTUSD%0A") as r:
            assert (await r.json()) == {"error": ["EGeneral:Invalid arguments:pair"]}
