"""Stream health in the API and in the dashboard (real headless Chromium): a stream the sandbox
stops turns stale in its row, the others stay live, and it recovers when data returns."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from live_support import move_books, sandbox_config, two_symbol_sandbox, write_vault
from test_api_support import bearer, build_app, client
from test_dashboard_browser import ARGS, CHROMIUM
from tradeguard.api.server import ApiServer
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually


async def test_stream_stats_route_and_panel_show_a_stopped_stream_stale_then_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        config = sandbox_config(tmp_path, ex, [])
        config.risk.stale_data_s = 1
        node = TradingNode(config)
        await node.start()
        mover = asyncio.create_task(move_books(ex))
        app, tokens = build_app(node)
        server = ApiServer(node, "127.0.0.1", 0, app=app)
        await server.start()
        try:
            async with client(app) as http:
                empty = await http.get("/api/v1/marketdata/streams", headers=bearer(tokens.viewer))
                assert empty.json() == {
                    "items": [],
                    "stale": 0,
                    "rest_fallback": 0,
                    "polled": 0,
                    "stale_after_s": None,
                }
            hub = node.live_hub()
            hub.subscribe(
                Subscription("book", "binance", sym, depth=5) for sym in ("BTC/USDT", "ETH/USDT")
            )
            await eventually(lambda: all(s["messages"] > 2 for s in hub.status()))
            async with client(app) as http:
                denied = await http.get("/api/v1/marketdata/streams")
                assert denied.status_code == 401
                body = (await http.get(
                    "/api/v1/marketdata/streams", headers=bearer(tokens.viewer)
                )).json()  # fmt: skip
            assert [(s["symbol"], s["stream"], s["stale"]) for s in body["items"]] == [
                ("BTC/USDT", "book", False), ("ETH/USDT", "book", False),
            ]  # fmt: skip
            assert body["stale"] == 0 and body["stale_after_s"] == 1
            assert all(s["age_s"] is not None and s["messages"] > 2 for s in body["items"])
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 1500})
                await page.goto(f"{server.url}/")
                await page.fill("#token-input", tokens.viewer)
                await page.click("#login-form button[type=submit]")
                eth = page.locator('#stream-rows tr[data-stream="binance/ETH/USDT/book"]')
                btc = page.locator('#stream-rows tr[data-stream="binance/BTC/USDT/book"]')
                await expect(page.locator("#stream-rows tbody tr")).to_have_count(2)
                await expect(page.locator("#user-streams")).to_contain_text(
                    "binance: connected since"
                )  # the private stream, from the health answer
                await expect(eth).to_contain_text("live")
                ex.faults.update({"silent_streams": ["ethusdt@depth"]})
                # the stale event comes through the WebSocket: the panel updates, no reload
                await expect(eth).to_have_attribute("data-stale", "true", timeout=10_000)
                await expect(eth).to_contain_text("stale")
                await expect(btc).to_have_attribute("data-stale", "false")
                await expect(page.locator("#streams-summary")).to_contain_text("1 stale")
                ex.faults.update({"silent_streams": []})
                await expect(eth).to_have_attribute("data-stale", "false", timeout=10_000)
                await expect(eth.locator("td").nth(6)).not_to_have_text("0")  # a resync
                await browser.close()
        finally:
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mover
            await server.stop()
            await node.stop()
            node.close()
