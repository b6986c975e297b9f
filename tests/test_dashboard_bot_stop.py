"""The dashboard's EMERGENCY STOP in real headless Chromium, pressed by a bot's own token: it
stops that bot (disabled, its entries refused) rather than failing with a 403 from /kill, which
such a token may not call, and the node keeps trading for everyone else."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from bots_support import rig
from dashboard_support import TALL, dashboard, require_chromium
from tradeguard.model import TradingState
from tradeguard.storage.bot_rows import BotRows


async def test_the_stop_button_with_a_bot_token_stops_that_bot(tmp_path: Path, data_dir) -> None:
    require_chromium()
    r = await rig(tmp_path, data_dir)
    node = r.node
    async with dashboard(node, TALL, app=r.app) as d:
        page = d.page
        await d.log_in(r.alpha["Authorization"].removeprefix("Bearer "))
        await expect(page.locator("#state-badge")).to_have_text("ACTIVE")
        # the token reads its own bot alone: the account's panels and the controls it may
        # not use (enable, disable, close, cancel, resume) are hidden
        await expect(page.locator('#bot-table tbody tr[data-bot="alpha"]')).to_be_visible()
        await expect(page.locator("#bot-table tbody tr")).to_have_count(1)
        await expect(page.locator("#bot-table button")).to_have_count(0)
        for hidden in ("#positions", "#balances", "#trades", "#equity", "#bot-orders",
                       "#bots-totp"):  # fmt: skip
            await expect(page.locator(hidden)).to_be_hidden()
        await expect(page.locator("#ws-status")).to_have_text("no stream for a bot token")
        await page.click("#stop-btn")
        await expect(page.locator("#stop-dialog")).to_be_visible()
        await page.click("#confirm-stop")
        await expect(page.locator("#stop-dialog")).to_be_hidden()
        await expect(page.locator("#stop-error")).to_have_text("")
        row = page.locator('#bot-table tbody tr[data-bot="alpha"]')
        await expect(row).to_contain_text("disabled")
        await expect(page.locator("#state-badge")).to_have_text("ACTIVE")
    enabled = {b.name: b.enabled for b in BotRows(node.db).bots()}
    assert enabled == {"alpha": False, "beta": True}, enabled
    assert node.risk.state is TradingState.ACTIVE  # a bot's token halts no one else
    stops = node.storage.load_events(kind_prefix="api.bot_stop")
    assert stops and stops[0].data["bot"] == "alpha", stops
    node.close()
