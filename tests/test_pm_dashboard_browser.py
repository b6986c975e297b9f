"""The cross-venue arbitrage and settlement panels in real headless Chromium, with live data:
a completed pair shows as an attempt and a held pair; once its two markets resolve apart, the
mismatch and both settlements appear."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from test_api_support import build_app
from test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM
from test_pm_arb_node import arb_config, vault_with_both
from tradeguard.api.server import ApiServer
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.outcome import Resolution
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    paired_markets,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.sandbox.testing import eventually
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

K_TICKER = "KXFED-26DEC-T4.00"


async def test_cross_venue_panel_shows_attempts_held_pairs_mismatches_and_settlements(
    tmp_path: Path, monkeypatch
):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    market = paired_markets("polymarket", pm)[0]
    scenario = ArbScenario(pm.book, [market], ArbScenarioConfig(size=Decimal(20)))
    vault_with_both(tmp_path, monkeypatch, k_keys, pm_keys)
    node = TradingNode(arb_config(tmp_path, kalshi, pm, {}, {}))
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
    await node.start()
    strat = node.strategies[0]
    assert isinstance(strat, CrossVenueStrategy)
    run = asyncio.create_task(node.run_live(duration_s=60))
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        scenario.appear(market)
        await eventually(lambda: bool(strat.attempts) and not strat.busy, timeout_s=10)
        assert strat.attempts[0].outcome == "completed", strat.attempts[0].reason
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 2000})
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", tokens.viewer)
            await page.click("#login-form button[type=submit]")

            attempts = page.locator("#pm-attempts tbody tr")
            await expect(attempts).to_have_count(1)
            await expect(attempts.first).to_contain_text("fed-dec-above-4")
            await expect(attempts.first).to_contain_text("completed")
            await expect(attempts.first).to_contain_text("20")
            held = page.locator("#pm-held tbody tr")
            await expect(held).to_have_count(1)
            await expect(held.first).to_contain_text("kalshi KXFED-26DEC-T4.00:NO/USD")
            await expect(page.locator("#settlements")).to_be_hidden()

            # Polymarket resolves 50-50, Kalshi YES: the pair pays less than promised
            pm.resolve(market, Resolution.VOID)
            kalshi.resolve(K_TICKER, Resolution.YES)
            assert len(await settle_resolved(node)) == 2
            assert [e.data["pair_id"] for e in strat.check_settlements()] == ["fed-dec-above-4"]
            mismatch = page.locator("#pm-mismatches tbody tr")
            await expect(mismatch).to_have_count(1, timeout=10_000)
            await expect(mismatch.first).to_contain_text("fed-dec-above-4")
            await expect(held).to_have_count(0)
            rows = page.locator("#settlement-rows tbody tr")
            await expect(rows).to_have_count(2)
            await expect(page.locator("#settlements")).to_contain_text("polymarket")
            await expect(page.locator("#settlements")).to_contain_text(K_TICKER)
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard_pm.png"), full_page=True)
            await browser.close()
    finally:
        await server.stop()
        node.request_stop()
        await run
        await node.stop()
        await pm.stop()
        await kalshi.stop()
