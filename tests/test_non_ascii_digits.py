"""A number written with digits str.isdigit() takes but int() refuses ('²') or reads as a
number from another script ('٣') is refused as malformed, never a 500 or a traceback: each
check below let '²' through to int()."""

from __future__ import annotations

import time

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from pm_support import seeded_kalshi
from test_kraken_sandbox import _signed as _kraken_signed
from tradeguard.backtest.grid import apply_values
from tradeguard.cli.backtest import _split
from tradeguard.model.errors import ConfigError
from tradeguard.sandbox.kalshi.server import PREFIX, KalshiExchange
from tradeguard.sandbox.kraken.names import order_id_of, trade_id_of
from tradeguard.sandbox.polymarket.auth import PolyAuthError, verify_l2
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign

ODD_DIGITS = ["²", "٣", "1²"]
HUGE = "9" * 5000


@pytest.mark.parametrize("limit", ODD_DIGITS)
async def test_a_binance_depth_limit_in_odd_digits_is_1100(limit: str) -> None:
    async with seeded_exchange() as ex, aiohttp.ClientSession() as http:
        params = {"symbol": "BTCUSDT", "limit": limit}
        async with http.get(f"{ex.base_url}/api/v3/depth", params=params) as resp:
            assert resp.status == 400, await resp.text()
            assert (await resp.json())["code"] == -1100


@pytest.mark.parametrize("sub", ODD_DIGITS)
async def test_a_ws_api_subscription_id_in_odd_digits_is_1100(sub: str) -> None:
    async with (
        seeded_exchange() as ex,
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{ex.base_url}/ws-api/v3") as ws,
    ):
        method = "userDataStream.unsubscribe"
        await ws.send_json({"id": "1", "method": method, "params": {"subscriptionId": sub}})
        answer = await ws.receive_json(timeout=5)
        assert answer["status"] == 400 and answer["error"]["code"] == -1100


@pytest.mark.parametrize("min_ts", ODD_DIGITS)
async def test_a_kalshi_fills_min_ts_in_odd_digits_is_a_400(min_ts: str) -> None:
    ex = KalshiExchange("127.0.0.1", 0)
    key_id, pem = seeded_kalshi(ex)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    await ex.start()
    try:
        async with aiohttp.ClientSession() as http:
            path, ts = PREFIX + "/portfolio/fills", str(int(time.time() * 1000))
            headers = {
                "KALSHI-ACCESS-KEY": key_id,
                "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "GET", path),
            }
            url = ex.base_url + path
            async with http.get(url, params={"min_ts": min_ts}, headers=headers) as resp:
                assert resp.status == 400, await resp.text()
                assert (await resp.json())["error"]["code"] == "invalid_parameters"
    finally:
        await ex.stop()


@pytest.mark.parametrize("tail", [*ODD_DIGITS, HUGE])
def test_a_kraken_txid_in_odd_digits_is_none_of_ours(tail: str) -> None:
    assert order_id_of(f"OSBX-{tail}") is None
    assert trade_id_of(f"TSBX-{tail}") is None


@pytest.mark.parametrize("ts", ODD_DIGITS)
def test_a_polymarket_l2_timestamp_in_odd_digits_is_refused(ts: str) -> None:
    creds = {"k": ("c2VjcmV0", "pass", "0xabc")}
    headers = {"POLY_API_KEY": "k", "POLY_TIMESTAMP": ts}
    with pytest.raises(PolyAuthError, match="timestamp"):
        verify_l2(creds, headers, "GET", "/orders", "", int(time.time()))


@pytest.mark.parametrize("text", ["²:5", "10:٣"])
def test_a_walk_forward_in_odd_digits_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="walk-forward"):
        _split(text)


def test_a_grid_index_in_odd_digits_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not an index"):
        apply_values({"venues": [{"name": "a"}]}, {"venues.².name": "b"})


@pytest.mark.parametrize("txid", [*ODD_DIGITS, "-²", HUGE])
async def test_a_kraken_cancel_of_a_userref_in_odd_digits_is_refused(kx, txid: str) -> None:
    # neither a txid nor a userref: refused as an invalid argument, never read as userref 2
    doc = await _kraken_signed(kx, "/0/private/CancelOrder", time.time_ns(), {"txid": txid})
    assert doc["error"] == ["EGeneral:Invalid arguments:txid"]
