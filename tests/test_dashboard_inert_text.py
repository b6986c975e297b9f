"""Text a client chose is shown by the dashboard as text, in real headless Chromium: a kill's
reason holding HTML (one line, so the API takes it) and a stored strategy pause's reason
holding HTML and an escape sequence appear as their characters in the state banner and the
strategy's title, and no element or script of theirs ever runs."""

from __future__ import annotations

from playwright.async_api import expect

from dashboard_support import dashboard, require_chromium
from test_api_support import bearer, client
from test_strategy_pause_api import SID, _node
from tradeguard.node.pause import pauses_of

MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


async def test_stored_reasons_holding_markup_are_shown_as_text(tmp_path, data_dir):
    require_chromium()
    node = await _node(tmp_path, data_dir)
    try:
        pauses_of(node).pause(SID, "ops", MARKUP + "\x1b[2J")
        async with dashboard(node) as board:
            page, tokens = board.page, board.tokens
            assert tokens is not None
            async with client(board.app) as http:
                r = await http.post("/api/v1/kill", json={"reason": MARKUP},
                                    headers=bearer(tokens.trader))  # fmt: skip
                assert r.status_code == 200, r.text
            await board.log_in(tokens.trader)
            banner = page.locator("#state-reason")
            await expect(banner).to_contain_text(f"HALTED: kill switch: {MARKUP}")
            titled = page.locator(f'#strategies tbody tr[data-strategy="{SID}"] [title]')
            await expect(titled).to_have_attribute("title", f"paused by ops: {MARKUP}\x1b[2J")
            assert await page.locator("img[src=x]").count() == 0
            assert await page.evaluate("window.__pwned") is None
    finally:
        node.close()
