"""The dashboard in real headless Chromium follows the market: equity and unrealized P&L move
with the marks even when no order, fill or risk event is pushed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import async_playwright, expect

from test_api_support import build_app, next_candle, replayed_node
from test_dashboard_browser import ARGS, CHROMIUM
from tradeguard.api.server import ApiServer
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.sandbox.testing import eventually


async def test_equity_and_unrealized_pnl_follow_the_marks_without_events(tmp_path, data_dir):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    node = await replayed_node(tmp_path, data_dir)
    buy = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.01"), OrderType.MARKET)
    )
    assert buy.ok
    next_candle(node)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1500})
            states: list[str] = []
            page.on("response", lambda r: states.append(r.url) if "/state" in r.url else None)
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", tokens.viewer)
            await page.click("#login-form button[type=submit]")
            mark_cell = page.locator("#positions tbody tr").first.locator("td").nth(5)
            await expect(page.locator("#ws-status")).to_have_text("live")
            await expect(mark_cell).not_to_have_text("")
            await eventually(lambda: len(states) >= 2)  # the refresh after the stream's hello
            await page.wait_for_load_state("networkidle")
            before_equity = await page.locator("#equity").inner_text()
            before_mark = await mark_cell.inner_text()
            # the market moves 10 % with nothing traded: no event reaches the stream
            mark = node.portfolio.marks["BTC/USDT"] * Decimal("1.1")
            node.portfolio.marks["BTC/USDT"] = mark.quantize(Decimal("0.01"))
            await expect(mark_cell).not_to_have_text(before_mark, timeout=20_000)
            await expect(page.locator("#equity")).not_to_have_text(before_equity)
            # the unrealized P&L in percent of the entry notional sits beside it
            (pos,) = node.portfolio.open_positions()
            pct = pos.unrealized_pnl_pct(node.portfolio.marks["BTC/USDT"])
            assert pct is not None and pct > 5
            pct_cell = page.locator("#positions tbody tr").first.locator("td").nth(7)
            await expect(pct_cell).to_have_text(f"{pct:,.2f}")
            await browser.close()
    finally:
        await server.stop()
        node.close()
