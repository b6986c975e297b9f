"""The bots panel in real headless Chromium: a bot's figures show, and its controls act on the
node through the existing routes: enable/disable, close a bot's positions or one position and
resume trading with the TOTP code, cancel an open order."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from bots_support import SYMBOL, mid, quote, rig
from test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM
from tradeguard.api.bot_desk import BotDesk
from tradeguard.api.server import ApiServer
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent

KEY = ("paper", SYMBOL, "alpha")


async def _trade(r, side: str, score: str = "0.9") -> None:
    body = {"bot_id": "alpha", "symbol": SYMBOL, "side": side, "score": score}
    v = (await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)).json()
    assert v["approved"], v
    e = await r.http.post("/api/v1/trades/execute", json={**body, "confirmation_id":
                          v["confirmation_id"]}, headers=r.alpha)  # fmt: skip
    assert e.status_code == 201, e.text


async def test_bots_panel_shows_figures_and_its_controls_act(tmp_path: Path, data_dir) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    r = await rig(tmp_path, data_dir)
    node = r.node
    await _trade(r, "buy")
    start = mid(node)
    await quote(node, start)
    await quote(node, start * Decimal("1.03"))
    await _trade(r, "sell")  # a winning round trip: +3 %
    await quote(node, start * Decimal("1.03"))
    assert node.portfolio.positions[KEY].quantity == 0
    stats = BotDesk.for_node(node).stats("alpha")
    assert (stats["trades"], stats["wins"]) == (1, 1)
    await _trade(r, "buy")  # an open position for the close control
    await quote(node, start * Decimal("1.03"))
    assert node.portfolio.positions[KEY].quantity > 0
    server = ApiServer(node, "127.0.0.1", 0, app=r.app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1800})
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", r.tokens.trader)
            await page.click("#login-form button[type=submit]")
            row = page.locator('#bot-table tbody tr[data-bot="alpha"]')
            await expect(row).to_contain_text("enabled")
            await expect(row.locator(".win-rate")).to_have_text("100.0%")
            await expect(row.locator(".pnl")).to_have_text(f"{Decimal(stats['pnl']):,.2f}")
            await expect(row.locator(".buckets")).to_contain_text("0.9-1.0: 100% (1)")
            beta = page.locator('#bot-table tbody tr[data-bot="beta"]')
            await expect(beta.locator(".win-rate")).to_have_text("–")  # no trade yet

            await row.get_by_role("button", name="disable").click()
            await expect(row).to_contain_text("disabled")
            assert BotDesk.for_node(node).bot("alpha")[1] is False

            await row.get_by_role("button", name="close positions").click()
            await expect(page.locator("#bots-msg")).to_contain_text("TOTP")
            assert node.portfolio.positions[KEY].quantity > 0  # nothing sent without the code
            await page.fill("#bots-totp", r.tokens.trader_totp.now())
            await row.get_by_role("button", name="close positions").click()
            await expect(page.locator("#bots-msg")).to_have_text("close alpha: done")
            closing = [o for o in node.orders.orders.values() if o.signal.get("exit")]
            assert [o.signal["exit"] for o in closing] == ["emergency_close"]
            ARTIFACTS.mkdir(exist_ok=True)
            await page.locator("#bots").screenshot(path=str(ARTIFACTS / "dashboard_bots.png"))
            await browser.close()
    finally:
        await server.stop()
        await r.http.aclose()
        node.close()


async def test_bots_panel_enables_cancels_closes_one_position_and_resumes_with_totp(
    tmp_path: Path, data_dir
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    r = await rig(tmp_path, data_dir)
    node = r.node
    await _trade(r, "buy")
    await quote(node, mid(node))  # alpha holds a position
    # beta's limit order rests 1 % under the market (sent down the order path: the plain order
    # route takes no entry for a bot)
    below = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
    resting = OrderIntent(
        "beta", "paper", SYMBOL, Side.BUY, Decimal("0.0005"), OrderType.LIMIT, price=below
    )
    e = await node.submit(resting)
    assert e.ok and e.order is not None, e
    pending = e.order.client_order_id
    assert pending in node.orders.open
    BotDesk.for_node(node).set_enabled("beta", False)
    server = ApiServer(node, "127.0.0.1", 0, app=r.app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1800})
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", r.tokens.trader)
            await page.click("#login-form button[type=submit]")
            beta_row = page.locator('#bot-table tbody tr[data-bot="beta"]')
            await beta_row.get_by_role("button", name="enable").click()
            await expect(beta_row).to_contain_text("enabled")
            assert BotDesk.for_node(node).bot("beta")[1] is True

            order_row = page.locator("#bot-orders tbody tr", has_text=pending)
            await order_row.get_by_role("button", name="cancel").click()
            await expect(page.locator("#bots-msg")).to_have_text(f"cancel {pending}: done")
            assert node.orders.orders[pending].status.value == "cancelled"

            alpha_row = page.locator('#bot-table tbody tr[data-bot="alpha"]')
            await page.fill("#bots-totp", r.tokens.trader_totp.now())
            await alpha_row.get_by_role("button", name=f"close {SYMBOL}").click()
            await expect(page.locator("#bots-msg")).to_have_text(f"close alpha {SYMBOL}: done")
            [closing] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
            assert closing.symbol == SYMBOL and closing.reduce_only
            assert closing.signal["exit"] == "emergency_close"

            await node.kill("drill", "pytest")
            resume = page.locator("#bots-resume")
            await expect(resume).to_be_visible(timeout=15_000)  # the panel refreshes every 5 s
            await page.fill("#bots-totp", "")
            await resume.click()
            await expect(page.locator("#bots-msg")).to_contain_text("TOTP")
            assert node.risk.state.value == "HALTED"  # nothing sent without the code
            # a code is good once: the close used this step's, so the next step's (one step
            # ahead is accepted for clock skew)
            await page.fill("#bots-totp", r.tokens.trader_totp.at(time.time() + 30))
            await resume.click()
            await expect(page.locator("#bots-msg")).to_have_text("resume: done")
            assert node.risk.state.value == "ACTIVE"
            await browser.close()
    finally:
        await server.stop()
        await r.http.aclose()
        node.close()
