"""The dashboard in real headless Chromium: a paper position shows, the emergency stop halts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from test_api_support import build_app, next_candle, replayed_node, resting_buy
from tradeguard.api.server import ApiServer
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side, TradingState

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


async def test_dashboard_shows_a_paper_position_and_the_emergency_stop_halts_trading(
    tmp_path, data_dir
):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    node = await replayed_node(tmp_path, data_dir)
    buy = await node.submit(
        OrderIntent("signals", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET,
                    signal={"reason": "ma cross up", "fast": "46210.5"})
    )  # fmt: skip
    assert buy.ok
    next_candle(node)
    cids = [await resting_buy(node) for _ in range(2)]
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1500})
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", tokens.trader)
            await page.click("#login-form button[type=submit]")

            positions = page.locator("#positions tbody tr")
            await expect(positions).to_have_count(1)
            await expect(positions.first).to_contain_text("BTC/USDT")
            await expect(positions.first).to_contain_text("0.001")
            await expect(page.locator("#open-orders tbody tr")).to_have_count(2)
            await expect(page.locator("#trades tbody tr").first).to_contain_text("ma cross up")
            await expect(page.locator("#ws-status")).to_have_text("live")
            await expect(page.locator("#state-badge")).to_have_text("ACTIVE")
            await expect(page.locator('#limits [data-limit="Daily loss"]')).to_contain_text("%")

            # a new order placed on the server appears through the WebSocket, no reload
            cids.append(await resting_buy(node))
            await expect(page.locator("#open-orders tbody tr")).to_have_count(3)

            await page.click("#stop-btn")
            await expect(page.locator("#stop-dialog")).to_be_visible()
            assert node.risk.state is TradingState.ACTIVE  # nothing happens before confirming
            await page.click("#confirm-stop")
            await expect(page.locator("#state-badge")).to_have_text("HALTED")
            await expect(page.locator("#open-orders tbody tr")).to_have_count(0)
            await expect(page.locator("#state-reason")).to_contain_text("HALTED")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            await browser.close()
    finally:
        await server.stop()
    assert node.risk.state is TradingState.HALTED
    assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in cids)
    assert await node.venues["paper"].fetch_open_orders() == []
    kill = node.storage.load_events(kind_prefix="api.kill")
    assert kill[0].data["token_id"] == tokens.trader_id
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    node.close()
