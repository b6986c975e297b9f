"""Prediction-market book streams say when REST stands in for their WebSocket.

User 3's arbitrage node (paper Kalshi and Polymarket venues fed by data-only venues) reads both
local servers. The Polymarket CLOB's `refuse_ws` fault takes its `market` channel down while REST
answers: the books keep coming from REST polling, and the health answer, the streams list, the
dashboard (headless Chromium) and `tradeguard status` (a subprocess) show those streams degraded,
on REST fallback, until the channel is back. The data-only Kalshi venue polls REST by design
(Kalshi's WebSocket needs a key): it shows `polled`, never degraded. A trading Kalshi venue's
`orderbook_delta` channel and a trading Polymarket venue's `market` channel, refused by the
local servers' fault, report the same way; without a WebSocket they show `polled`.
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from playwright.async_api import async_playwright, expect

from pm_support import TICKER, rsa_pem
from test_api_support import bearer
from test_dashboard_browser import ARGS, CHROMIUM
from test_health_api import _check, _until, served
from test_live_hub import Sink
from test_pm_arb_paper import paper_config
from test_quote_stream_fallback_health import _dashboard, _status
from tradeguard.clock import Clock
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.streams import RestFallback
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.outcome import parse_outcome_symbol
from tradeguard.node import TradingNode
from tradeguard.node.feed import _quotes_only
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.polymarket.venue import PolymarketVenue

STREAMS = "/api/v1/marketdata/streams"


def _market(r: httpx.Response) -> dict[str, Any]:
    return _check(r, "market_data")


async def _rows(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    streams = (await http.get(STREAMS, headers=bearer(token))).json()
    return {f"{s['venue']}/{s['symbol']}": s for s in streams["items"]} | {"_": streams}


def _arb_node(tmp: Path, kalshi: Any, pm: Any) -> TradingNode:
    cfg = paper_config(tmp, kalshi, pm, {}, {}).model_copy(update={"strategies": []})
    node = TradingNode(cfg)
    for venue in node.data_venues.values():
        venue.quote_poll_s = 0.05
    return node


async def test_a_refused_polymarket_channel_shows_degraded_and_kalshi_polling_stays_ok(
    tmp_path: Path,
) -> None:
    kalshi, pm = kalshi_demo(kalshi_keys(None)), polymarket_demo(polymarket_keys(None))
    await kalshi.start()
    await pm.start()
    node = _arb_node(tmp_path, kalshi, pm)
    await node.start()
    run = asyncio.create_task(node.run_live())
    try:
        pm_syms = sorted(node.data_venues["pm-data"].instruments)[:2]
        k_sym = sorted(node.data_venues["kalshi-data"].instruments)[0]
        pm_row = f"pm-data/{pm_syms[0]}"
        async with served(node) as (http, tokens):
            assert node.live is not None
            node.live.subscribe(
                [Subscription("quotes", "pm-data", s) for s in pm_syms]
                + [Subscription("quotes", "kalshi-data", k_sym)]
            )
            up = await _until(http, lambda r: _market(r)["streams"] >= 3, timeout_s=20)
            await eventually(lambda: node.market.last_update_ms(pm_syms[0]) is not None)
            market = _market(up)
            assert market["status"] == "ok" and market["state"] == "streaming"
            assert market["polled"] == 1 and market["rest_fallback"] == 0
            rows = await _rows(http, tokens.viewer)
            assert rows[f"kalshi-data/{k_sym}"]["state"] == "polled"  # REST by design
            assert rows[pm_row]["state"] == "streaming"

            pm.faults.update({"refuse_ws": True})  # the CLOB's websocket side goes down
            assert await pm.disconnect_websockets() >= 1
            down = await _until(
                http, lambda r: _market(r)["state"] == "rest_fallback", timeout_s=30
            )
            market = _market(down)
            assert down.status_code == 503 and down.json()["status"] == "degraded"
            assert market["status"] == "degraded" and market["rest_fallback"] == 2
            assert market["polled"] == 1 and market["fallback_since_ms"] > 0
            # the first failure is the channel closing; the refused reconnects follow
            await _until(http, lambda r: _market(r)["reconnect_attempts"] >= 2, timeout_s=30)
            rows = await _rows(http, tokens.viewer)
            row = rows[pm_row]
            assert row["state"] == "rest_fallback" and not row["stale"]
            assert row["reconnects"] >= 1 and row["reconnect_attempts"] >= 2
            assert "503" in row["error"], row["error"]
            assert rows[f"kalshi-data/{k_sym}"]["state"] == "polled"
            assert rows["_"]["rest_fallback"] == 2 and rows["_"]["polled"] == 1
            # books still come, from REST polling
            before = row["messages"]
            slug, _, _ = parse_outcome_symbol(pm_syms[0])
            best = node.market.quotes[pm_syms[0]].bid  # one more share at the best bid
            pm.seed_book(slug, [(str(best), "1")], [])
            await eventually(
                lambda: (
                    node.live is not None
                    and node.live.stats[("pm-data", pm_syms[0], "quotes")].messages > before
                ),
                timeout_s=10,
            )

            text = await _status(tmp_path, str(http.base_url))
            assert "2 on REST fallback (websocket down) since" in text, text
            assert "1 polled from REST by design" in text, text

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 1500})
                await _dashboard(page, str(http.base_url).rstrip("/"), tokens.viewer)
                pm_el = page.locator(f'#stream-rows tr[data-stream="{pm_row}/quotes"]')
                k_el = page.locator(f'#stream-rows tr[data-stream="kalshi-data/{k_sym}/quotes"]')
                await expect(pm_el).to_have_attribute("data-state", "rest_fallback")
                await expect(pm_el).to_contain_text("degraded: REST fallback since")
                await expect(k_el).to_have_attribute("data-state", "polled")
                await expect(k_el).to_contain_text("polled (REST by design)")
                summary = page.locator("#streams-summary")
                await expect(summary).to_contain_text("2 degraded (websocket down, on REST)")
                await expect(summary).to_contain_text("1 polled (REST by design)")

                pm.faults.update({"refuse_ws": False})  # and comes back
                back = await _until(http, lambda r: _market(r)["state"] == "streaming", 30)
                await expect(pm_el).to_have_attribute("data-state", "streaming", timeout=15_000)
                await expect(pm_el).to_contain_text("live")
                await expect(k_el).to_have_attribute("data-state", "polled")
                await browser.close()
            market = _market(back)
            assert market["status"] == "ok" and market["rest_fallback"] == 0
            assert "fallback_since_ms" not in market and market["polled"] == 1
            rows = await _rows(http, tokens.viewer)
            assert rows[pm_row]["reconnect_attempts"] == 0 and rows[pm_row]["error"] == ""
            assert "REST fallback" not in await _status(tmp_path, str(http.base_url))
    finally:
        node.request_stop()
        await run
        await node.stop()
        node.close()
        await pm.stop()
        await kalshi.stop()


async def test_a_refused_kalshi_book_channel_reports_rest_fallback_until_it_is_back() -> None:
    async with KalshiExchange() as ex:
        ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
        ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
        pem, key = rsa_pem()
        key_id = ex.add_account(key.public_key(), Decimal(1000))
        venue = KalshiVenue(
            "kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, False, quote_poll_s=0.05
        )
        await venue.connect()
        assert not venue.quotes_polled
        turns: list[bool] = []
        fb = RestFallback(changed=turns.append)
        ex.faults.update({"refuse_ws": True})
        latest: dict[str, Any] = {}

        async def follow() -> None:
            async for q in venue.stream_quotes_reporting([f"{TICKER}:YES/USD"], fb):
                latest[q.symbol] = q

        task = asyncio.create_task(follow())
        try:
            await eventually(lambda: fb.active, timeout_s=10)
            assert turns == [False] and fb.attempts >= 1 and "503" in fb.error, fb
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.46", "7")])
            await eventually(
                lambda: bool(latest) and str(next(iter(latest.values())).ask) == "0.4600"
            )  # polled from REST meanwhile
            assert venue.book_stats.ws_quotes == 0
            ex.faults.update({"refuse_ws": False})
            await eventually(lambda: not fb.active, timeout_s=15)
            assert turns == [False, True] and fb.attempts == 0 and fb.error == ""
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.455", "3")])
            await eventually(lambda: venue.book_stats.ws_quotes >= 1)  # over the channel again
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await venue.close()


async def test_through_the_hub_a_refused_kalshi_channel_is_rest_fallback_and_no_ws_is_polled() -> (
    None
):
    async with KalshiExchange() as ex:
        ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
        ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
        pem, key = rsa_pem()
        key_id = ex.add_account(key.public_key(), Decimal(1000))
        streamed, rest_only = (
            KalshiVenue(name, ex.rest_url, key_id, pem, Clock(), ws, False, quote_poll_s=0.05)
            for name, ws in (("k-ws", ex.ws_url), ("k-rest", ""))
        )
        assert rest_only.quotes_polled
        sink = Sink()
        sources = {v.name: _quotes_only(v.name, v) for v in (streamed, rest_only)}
        hub = LiveHub(sources, sink)
        ex.faults.update({"refuse_ws": True})
        hub.subscribe([Subscription("quotes", n, f"{TICKER}:YES/USD") for n in sources])

        def states() -> dict[str, str]:
            return {s["venue"]: s["state"] for s in hub.status()}

        try:
            await eventually(lambda: states() == {"k-ws": "rest_fallback", "k-rest": "polled"})
            assert [k for k, _ in sink.events] == ["marketdata.rest_fallback"]
            assert sink.events[0][1]["venue"] == "k-ws" and sink.events[0][1]["reconnects"] == 1
            ex.faults.update({"refuse_ws": False})
            await eventually(
                lambda: states() == {"k-ws": "streaming", "k-rest": "polled"}, timeout_s=15
            )
            assert [k for k, _ in sink.events] == [
                "marketdata.rest_fallback",
                "marketdata.recovered",
            ]
        finally:
            await hub.stop()
            await streamed.close()
            await rest_only.close()


async def test_a_trading_polymarket_venue_reports_its_refused_market_channel() -> None:
    async with PolymarketExchange() as ex:
        ex.add_market("fed-dec", "1001", "1002")
        ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
        wallet = Account.create()
        ex.add_account(wallet.address, Decimal(1000))
        ws = ex.url.replace("http", "ws", 1) + "/ws/user"
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock(), ws_url=ws)
        no_ws = PolymarketVenue("pm-rest", ex.url, wallet.key.hex(), Clock())
        assert not venue.quotes_polled and no_ws.quotes_polled
        await venue.connect()
        turns: list[bool] = []
        fb = RestFallback(changed=turns.append)
        seen: list[Any] = []

        async def follow() -> None:
            async for q in venue.stream_quotes_reporting(["fed-dec:YES/PUSD"], fb):
                seen.append(q)

        task = asyncio.create_task(follow())
        try:
            await eventually(lambda: venue.book_stats.ws_quotes + len(seen) >= 1)
            await eventually(lambda: any(c[0] == "market" for c in _subs_pm(ex)))
            assert not fb.active
            ex.faults.update({"refuse_ws": True})
            assert await ex.disconnect_websockets() >= 1
            await eventually(lambda: fb.active and fb.attempts >= 2, timeout_s=15)
            assert turns == [False] and "503" in fb.error, fb
            ex.faults.update({"refuse_ws": False})
            await eventually(lambda: not fb.active, timeout_s=15)
            assert turns == [False, True]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await venue.close()
            await no_ws.close()


def _subs_pm(ex: PolymarketExchange) -> list[tuple[str, set[str]]]:
    return [sub for conn in ex.hub.conns for sub in conn.subs.values()]
