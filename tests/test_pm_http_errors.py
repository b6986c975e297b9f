"""The Kalshi venue, the Polymarket venue and the data-only venues map an HTTP answer the same
way: one line naming the venue, the operation, the route and the status; 429 (with its
Retry-After), 5xx, timeouts and bodies that are not JSON are ambiguous, other 4xx definitive."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from rigs import answering
from tradeguard.clock import Clock
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError, VenueError
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.pm_public import KalshiPublicData, PolymarketPublicData
from tradeguard.venues.polymarket.venue import PolymarketVenue


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Any, Any, dict, dict]]:
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    try:
        yield kalshi, pm, k_keys, pm_keys
    finally:
        await pm.stop()
        await kalshi.stop()


def _venues(k_url: str, pm_url: str, k_keys: dict, pm_keys: dict) -> list[Any]:
    clock = Clock()
    return [
        KalshiVenue("k", k_url, k_keys["key_id"], k_keys["private_key_pem"], clock, "",
                    stream_fills=False),
        PolymarketVenue("pm", pm_url, pm_keys["private_key"], clock),
        KalshiPublicData("k-data", k_url, clock),
        PolymarketPublicData("pm-data", pm_url, clock, ""),
    ]  # fmt: skip


async def _fault(server: Any, **faults: Any) -> None:
    url = server.base_url if hasattr(server, "base_url") else server.url
    async with httpx.AsyncClient() as c:
        (await c.post(f"{url}/admin/faults", json=faults)).raise_for_status()


async def _listing_error(venue: Any) -> VenueError:
    try:
        with pytest.raises(VenueError) as info:
            await venue.load_instruments()
        return info.value
    finally:
        await venue.close()


ROUTE = r"GET (/trade-api/v2)?/markets"


async def test_a_429_names_venue_route_status_and_retry_after_everywhere(servers) -> None:
    kalshi, pm, k_keys, pm_keys = servers
    for venue in _venues(kalshi.rest_url, pm.url, k_keys, pm_keys):
        await _fault(kalshi, burst_429=1)
        await _fault(pm, burst_429=1)
        exc = await _listing_error(venue)
        assert isinstance(exc, AmbiguousVenueError) and exc.code == "RATE_LIMITED", exc
        assert re.fullmatch(
            rf"{venue.name}: load_instruments failed: {ROUTE} answered HTTP 429 "
            r"\(rate limited; retry after 1 s\).*",
            str(exc),
        ), str(exc)
        assert exc.retry_after_s == 1 and "\n" not in str(exc)
        await _fault(kalshi, burst_429=0)
        await _fault(pm, burst_429=0)


async def test_a_5xx_and_a_timeout_are_ambiguous_everywhere(servers) -> None:
    kalshi, pm, k_keys, pm_keys = servers
    await _fault(kalshi, http_5xx_rate=1.0)
    await _fault(pm, http_5xx_rate=1.0)
    for venue in _venues(kalshi.rest_url, pm.url, k_keys, pm_keys):
        exc = await _listing_error(venue)
        assert isinstance(exc, AmbiguousVenueError), exc
        assert re.match(rf"{venue.name}: load_instruments failed: {ROUTE} answered HTTP 503: ",
                        str(exc)), str(exc)  # fmt: skip
    await _fault(kalshi, http_5xx_rate=0.0, latency_ms=500)
    await _fault(pm, http_5xx_rate=0.0, latency_ms=500)
    for venue in _venues(kalshi.rest_url, pm.url, k_keys, pm_keys):
        http = getattr(venue, "client", venue)._http
        http.timeout = httpx.Timeout(0.1)
        exc = await _listing_error(venue)
        assert isinstance(exc, AmbiguousVenueError) and exc.code == "NETWORK", exc
        assert f"{venue.name}: load_instruments failed: ReadTimeout" in str(exc)


async def test_a_body_that_is_not_json_is_ambiguous_not_a_traceback() -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>\n<b>gateway</b>\n</html>", content_type="text/html")

    runner, base = await answering(html)
    keys = kalshi_keys(None), polymarket_keys(None)
    try:
        for venue in _venues(f"{base}/trade-api/v2", base, *keys):
            exc = await _listing_error(venue)
            assert isinstance(exc, AmbiguousVenueError) and exc.code == "BAD_BODY", exc
            head = rf"{venue.name}: load_instruments failed: {ROUTE} answered HTTP 200 "
            assert re.match(head + r"with a body that is not JSON: '<html> <b>gateway", str(exc))
            assert "\n" not in str(exc)
    finally:
        await runner.cleanup()


async def test_a_4xx_is_definitive_with_the_venues_own_words(servers) -> None:
    kalshi, pm, k_keys, pm_keys = servers
    k, pm_venue, k_data, pm_data = _venues(kalshi.rest_url, pm.url, k_keys, pm_keys)
    for call, words in (
        (pm_data.get("load_fees", "/clob-markets/nope"), "GET /clob-markets/nope "
         "answered HTTP 404: "),
        (k_data.get("fetch_quote", "/markets/NOPE/orderbook"),
         "GET /trade-api/v2/markets/NOPE/orderbook answered HTTP 404: "),
    ):  # fmt: skip
        with pytest.raises(DefinitiveVenueError) as info:
            await call
        assert words in str(info.value), str(info.value)
    for venue in (k, pm_venue, k_data, pm_data):
        await venue.close()


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1:1/markets")
    return httpx.Response(status, content=body, headers=headers, request=request)


@pytest.mark.parametrize("raw", ["nan", "inf", "1e999", "-inf"])
def test_a_retry_after_that_is_not_a_finite_number_is_no_answer(raw: str) -> None:
    from tradeguard.venues.http_answer import retry_after_s

    assert retry_after_s(_answer(429, b"{}", {"Retry-After": raw})) is None
    assert retry_after_s(_answer(429, b"{}", {"Retry-After": "99999999"})) == 3600.0
    assert retry_after_s(_answer(429, b"{}", {"Retry-After": "2.5"})) == 2.5


def test_a_body_nested_thousands_deep_is_not_json_not_a_recursion_error() -> None:
    from tradeguard.venues.http_answer import answer_json, error_detail

    deep = b"[" * 50_000
    # another test's import of the Ethereum libraries may have raised the limit; a node keeps 1,000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    try:
        _deep_answers(deep, answer_json, error_detail)
    finally:
        sys.setrecursionlimit(limit)


def _deep_answers(deep: bytes, answer_json: Any, error_detail: Any) -> None:
    with pytest.raises(AmbiguousVenueError, match="not JSON"):
        answer_json("kalshi", "list markets", _answer(200, deep))
    code, message = error_detail(_answer(500, deep))
    assert code == "" and message.startswith("[[[")
