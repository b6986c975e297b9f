"""The dashboard in real headless Chromium after a bot's token is refused: the trader who logs in
next on the same page gets every panel and control back, not the bot's narrow view."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from bots_support import rig
from dashboard_support import TALL, dashboard, require_chromium
from tradeguard.api.auth import TokenStore


async def test_a_trader_after_a_revoked_bot_token_sees_the_whole_dashboard(
    tmp_path: Path, data_dir
) -> None:
    # was: the bot view stayed (positions, balances, trades hidden, no bot controls) until the
    # page was reloaded by hand, since only the logout button reset it
    require_chromium()
    r = await rig(tmp_path, data_dir)
    try:
        async with dashboard(r.node, TALL, app=r.app) as d:
            page = d.page
            await d.log_in(r.alpha["Authorization"].removeprefix("Bearer "))
            await expect(page.locator("#bot-table tbody tr")).to_have_count(1)
            await expect(page.locator("#positions")).to_be_hidden()
            TokenStore(r.node.db, r.node.storage).revoke("alpha-bot")
            await expect(page.locator("#login")).to_be_visible(timeout=15_000)
            await page.fill("#token-input", r.trader["Authorization"].removeprefix("Bearer "))
            await page.click("#login-form button[type=submit]")
            await expect(page.locator("#state-badge")).to_have_text("ACTIVE")
            for shown in ("#positions", "#balances", "#trades"):
                await expect(page.locator(shown)).to_be_visible()
            await expect(page.locator("#bot-table tbody tr")).to_have_count(2)
            await expect(page.locator("#bot-table button").first).to_be_visible()
    finally:
        await r.http.aclose()
        r.node.close()
