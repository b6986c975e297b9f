"""The backtest report in headless Chromium: it renders offline, with every trade's markers."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from backtest_support import write_config
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, arun_backtest, write_outputs
from tradeguard.config import load_config

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


async def test_report_renders_offline_with_entry_and_exit_markers(tmp_path, data_dir):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-15"))
    result = await arun_backtest(load_config(write_config(tmp_path)), tmp_path / "run", window)
    report = next(p for p in write_outputs(result, "Report test") if p.name == "report.html")
    trades = len(result.trades)
    assert trades > 10
    requests: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 1400})
        page.on("request", lambda r: requests.append(r.url))
        await page.goto(report.resolve().as_uri())
        assert await page.locator("svg.equity polyline.series").count() == 1
        assert await page.locator("svg.drawdown").count() == 1
        assert await page.locator("h2.pair").all_inner_texts() == [
            f"ETH/BTC ({sum(t.symbol == 'ETH/BTC' for t in result.trades)} trades)",
            f"ADA/BTC ({sum(t.symbol == 'ADA/BTC' for t in result.trades)} trades)",
        ]
        assert await page.locator("path.marker.entry").count() == trades
        assert await page.locator("path.marker.exit").count() == trades
        reasons = await page.locator("path.marker.exit title").evaluate_all(
            "els => els.map(e => e.textContent)"
        )
        assert set(reasons) == {t.exit_reason for t in result.trades}
        assert await page.locator("#trades tr").count() == trades + 1
        assert await page.locator("table.heat td").first.inner_text() != ""
        marker = page.locator("path.marker.entry").first
        box = await marker.bounding_box()
        assert box is not None and box["width"] > 4  # drawn, not collapsed
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "backtest-report.png"), full_page=True)
        await browser.close()
    assert requests == [report.resolve().as_uri()]  # nothing fetched but the file itself
