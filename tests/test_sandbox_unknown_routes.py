"""An unknown route or a method a route does not take is answered in the venue's own error
shape (aiohttp's plain text "404: Not Found" before): a client maps it to its error class, not to
a network outage it would retry (ccxt read a plain 404/405 as ExchangeNotAvailable)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt
import pytest
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.http_helpers.helpers import request as clob_request

from pm_support import rsa_pem
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.kalshi.server import PREFIX, KalshiExchange
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.kalshi.client import KalshiApiError, KalshiClient


async def _answer(method: str, url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


async def _ccxt_error(ex: Any, exchange: str, path: str, method: str) -> BaseException:
    client = ccxt_client_factory(exchange, {}, rest_url=ex.base_url)()
    try:
        with pytest.raises(ccxt.BaseError) as caught:
            await client.request(path, ["public"], method)
    finally:
        await client.close()
    return caught.value


async def test_binance_answers_an_unknown_route_and_a_wrong_method_with_its_error_json() -> None:
    ex = SandboxExchange()
    await ex.start()
    try:
        status, body = await _answer("GET", f"{ex.base_url}/api/v3/nothing")
        assert status == 404 and body["code"] == -1020, body
        assert "GET /api/v3/nothing" in body["msg"], body
        status, body = await _answer("POST", f"{ex.base_url}/api/v3/time")
        assert status == 405 and body["code"] == -1020, body
        assert "POST" in body["msg"] and "GET" in body["msg"], body
        status, body = await _answer("GET", f"{ex.base_url}/fapi/v1/time")  # outside /api/
        assert status == 404 and body["code"] == -1020, body
        # ccxt: before, ExchangeNotAvailable (a network error, retried)
        for path, method in (("nothing", "GET"), ("time", "POST")):
            exc = await _ccxt_error(ex, "binance", path, method)
            assert isinstance(exc, ccxt.BadRequest), repr(exc)
    finally:
        await ex.stop()


async def test_kraken_answers_an_unknown_method_in_its_error_list() -> None:
    ex = KrakenSandbox(SandboxConfig())
    await ex.start()
    try:
        status, body = await _answer("GET", f"{ex.base_url}/0/public/Nothing")
        assert status == 404 and body["error"][0].startswith("EGeneral:Unknown method"), body
        status, body = await _answer("POST", f"{ex.base_url}/0/public/Time")
        assert status == 405 and body["error"][0].startswith("EGeneral:Unknown method"), body
        exc = await _ccxt_error(ex, "kraken", "Nothing", "GET")
        assert isinstance(exc, ccxt.ExchangeError), repr(exc)
        assert "EGeneral:Unknown method" in str(exc)
    finally:
        await ex.stop()


async def test_kalshi_answers_an_unknown_route_in_its_error_object() -> None:
    async with KalshiExchange() as ex:
        status, body = await _answer("GET", f"{ex.base_url}{PREFIX}/nothing")
        assert status == 404 and body["error"]["code"] == "not_found", body
        status, body = await _answer("PUT", f"{ex.base_url}{PREFIX}/markets")
        assert status == 405 and body["error"]["code"] == "method_not_allowed", body
        assert "GET" in body["error"]["message"], body
        client = KalshiClient(f"{ex.base_url}{PREFIX}", "key", rsa_pem()[0])
        try:
            with pytest.raises(KalshiApiError) as caught:
                await client.request("GET", "/nothing")
        finally:
            await client.close()
        assert (caught.value.status, caught.value.code) == (404, "not_found")


async def test_polymarket_answers_an_unknown_route_in_its_error_object() -> None:
    async with PolymarketExchange() as ex:
        status, body = await _answer("GET", f"{ex.url}/nothing")
        assert status == 404 and "GET /nothing" in body["error"], body
        status, body = await _answer("PUT", f"{ex.url}/order")
        assert status == 405 and "PUT" in body["error"], body
        with pytest.raises(PolyApiException) as caught:
            await asyncio.to_thread(clob_request, f"{ex.url}/nothing", "GET")
        assert caught.value.status_code == 404
        assert isinstance(caught.value.error_msg, dict), caught.value  # before: the plain text


async def test_the_chain_answers_a_wrong_method_with_a_json_rpc_error() -> None:
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        status, body = await _answer("GET", f"{server.url}/")
        assert status == 405 and body["jsonrpc"] == "2.0" and body["id"] is None, body
        assert body["error"]["code"] == -32600 and "POST" in body["error"]["message"], body
    finally:
        await server.stop()


async def _allow(method: str, url: str) -> tuple[int, str | None]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as resp:
        return resp.status, resp.headers.get("Allow")


async def test_a_wrong_method_is_told_the_methods_its_route_takes() -> None:
    # HTTP's 405 names them in Allow (aiohttp's plain answer did; the venue-shaped one did not)
    ex, kraken = SandboxExchange(), KrakenSandbox(SandboxConfig())
    await ex.start()
    await kraken.start()
    try:
        assert await _allow("POST", f"{ex.base_url}/api/v3/time") == (405, "GET,HEAD")
        assert await _allow("POST", f"{kraken.base_url}/0/public/Time") == (405, "GET,HEAD")
        assert (await _allow("GET", f"{ex.base_url}/api/v3/nothing"))[1] is None
    finally:
        await kraken.stop()
        await ex.stop()
    async with KalshiExchange() as kalshi:
        status, allow = await _allow("PUT", f"{kalshi.base_url}{PREFIX}/markets")
        assert status == 405 and allow is not None and "GET" in allow.split(","), allow
    async with PolymarketExchange() as poly:
        status, allow = await _allow("PUT", f"{poly.url}/order")
        assert status == 405 and allow is not None and "POST" in allow.split(","), allow


async def test_an_unknown_route_names_a_long_path_cut_short() -> None:
    ex = SandboxExchange()
    await ex.start()
    try:
        status, body = await _answer("GET", f"{ex.base_url}/api/v3/{'x' * 6000}")
        assert status == 404 and f"/api/v3/{'x' * 100}" in body["msg"], body
        assert len(body["msg"]) < 300 and "..." in body["msg"], len(body["msg"])
    finally:
        await ex.stop()
