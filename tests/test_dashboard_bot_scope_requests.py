"""The dashboard in real headless Chromium with a token bound to a bot asks none of the
account's routes (each would answer 403, an error in the browser's console on every poll): it
learns the token's scope first and asks the bot's routes alone, poll after poll."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Request, Response, expect

from bots_support import rig
from dashboard_support import TALL, dashboard, require_chromium
from tradeguard.sandbox.testing import eventually

# what a token bound to a bot may ask (the rest answers it 403)
BOT_ROUTES = ("/api/v1/safety/", "/api/v1/trades/", "/api/v1/bots/", "/api/v1/health")


async def test_a_bot_token_s_dashboard_asks_no_account_route(tmp_path: Path, data_dir) -> None:
    # was: /state, /positions, /orders, /balances ... asked at the start, each a 403
    require_chromium()
    r = await rig(tmp_path, data_dir)
    try:
        async with dashboard(r.node, TALL, app=r.app) as d:
            page = d.page
            asked: list[str] = []
            refused: list[str] = []
            status_polls: list[str] = []

            def on_request(req: Request) -> None:
                if "/api/v1/" in req.url:
                    asked.append(req.url)
                if "/api/v1/safety/status" in req.url:
                    status_polls.append(req.url)

            def on_response(res: Response) -> None:
                if res.status == 403:
                    refused.append(res.url)

            page.on("request", on_request)
            page.on("response", on_response)
            page.on("websocket", lambda ws: asked.append(ws.url))  # the account's live stream
            await d.log_in(r.alpha["Authorization"].removeprefix("Bearer "))
            await expect(page.locator("#bot-table tbody tr")).to_have_count(1)
            await expect(page.locator("#positions")).to_be_hidden()
            # two more polls of the timers (every 5 s): nothing new is asked either
            await eventually(lambda: len(status_polls) >= 3, 30)
            # the EMERGENCY STOP stops the bot through its own route, /kill is not tried first
            await page.click("#stop-btn")
            await page.click("#confirm-stop")
            await expect(page.locator("#stop-dialog")).to_be_hidden()
            row = page.locator('#bot-table tbody tr[data-bot="alpha"]')
            await expect(row).to_contain_text("disabled", timeout=15_000)
            account = [u for u in asked if not any(p in u for p in BOT_ROUTES)]
            assert account == [], account
            assert refused == [], refused
    finally:
        await r.http.aclose()
        r.node.close()
