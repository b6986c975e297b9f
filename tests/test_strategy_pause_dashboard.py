"""The strategies panel in real headless Chromium: Pause and Resume act on the node through the
API, and ask for the TOTP code as the bots panel does."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from test_api_support import build_app
from test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM
from test_strategy_pause_api import SID, _fresh_codes, _node
from tradeguard.api.server import ApiServer
from tradeguard.node.pause import pauses_of


async def test_strategies_panel_pauses_and_resumes_a_strategy_with_the_totp_code(
    tmp_path: Path, data_dir: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1800})
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", tokens.trader)
            await page.click("#login-form button[type=submit]")
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
            await browser.close()
    finally:
        await server.stop()
        node.close()
