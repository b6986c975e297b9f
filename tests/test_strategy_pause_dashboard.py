"""The strategies panel in real headless Chromium: Pause and Resume act on the node through the
API, and ask for the TOTP code as the bots panel does."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from dashboard_support import ARTIFACTS, dashboard, require_chromium
from test_strategy_pause_api import SID, _fresh_codes, _node
from tradeguard.node.pause import pauses_of


async def test_strategies_panel_pauses_and_resumes_a_strategy_with_the_totp_code(
    tmp_path: Path, data_dir: Path
) -> None:
    require_chromium()
    node = await _node(tmp_path, data_dir)
    try:
        async with dashboard(node, viewport={"width": 1400, "height": 1800}) as board:
            page, app, tokens = board.page, board.app, board.tokens
            await board.log_in(tokens.trader)
            row = page.locator(f'#strategies tbody tr[data-strategy="{SID}"]')
            await expect(row.locator(".status")).to_have_text("running")
            msg = page.locator("#strategies-msg")

            await row.get_by_role("button", name="pause").click()
            await expect(msg).to_contain_text("TOTP")
            assert pauses_of(node).ids == set()  # nothing sent without the code
            await page.fill("#strategies-totp", tokens.trader_totp.now())
            await row.get_by_role("button", name="pause").click()
            await expect(msg).to_have_text(f"pause {SID}: done")
            await expect(row.locator(".status")).to_have_text("paused")
            assert pauses_of(node).ids == {SID}
            assert pauses_of(node).entries[SID]["reason"] == "paused from the dashboard"
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "dashboard_strategy_paused.png"
            await page.locator("#strategies").screenshot(path=str(shot))

            _fresh_codes(app)  # a code is accepted once; the next 30 s step is not waited for
            await page.fill("#strategies-totp", tokens.trader_totp.now())
            await row.get_by_role("button", name="resume").click()
            await expect(msg).to_have_text(f"resume {SID}: done")
            await expect(row.locator(".status")).to_have_text("running")
            assert pauses_of(node).ids == set()
    finally:
        node.close()
