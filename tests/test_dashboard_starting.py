"""The dashboard in real headless Chromium while the node starts (`tradeguard run` serves the
API before the venues' markets are loaded): the health pill says "starting", not "api down",
and turns to "api ok" once the node has started."""

from __future__ import annotations

from playwright.async_api import expect

from dashboard_support import dashboard, require_chromium
from test_api_support import bare_paper_config
from tradeguard.node import build_node


async def test_the_dashboard_says_starting_while_the_node_starts(tmp_path, data_dir):
    require_chromium()
    node = build_node(bare_paper_config(tmp_path, data_dir, rows=30))
    try:
        async with dashboard(node) as board:
            page = board.page
            await page.goto(f"{board.url}/")
            health = page.locator("#health")
            await expect(health).to_have_text("starting")  # was: "api down"
            await expect(health).to_have_class("pill warn")
            await node.start()
            await expect(health).to_have_text("api ok", timeout=20_000)  # its next poll
            await expect(health).to_have_class("pill on")
    finally:
        node.close()
