"""The dashboard rig for tests in real headless Chromium: the node's API served on loopback and
one browser page, closed (browser, then server) when the test's block ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from test_api_support import Tokens, build_app
from tradeguard.api.server import ApiServer
from tradeguard.node import TradingNode

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TALL = {"width": 1400, "height": 1500}

# Every browser check waits up to 15 s for what it expects (Playwright's default is 5 s): a page
# that renders in well under a second alone can take seconds while another test worker keeps
# the same cores busy. A check that never comes true still fails, only later.
expect.set_options(timeout=15_000)


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")


@dataclass
class Dashboard:
    page: Page
    app: FastAPI
    tokens: Tokens | None  # None: the caller built the app and holds its tokens
    url: str

    async def log_in(self, token: str) -> None:
        """Open the dashboard and log in with `token`."""
        await self.page.goto(f"{self.url}/")
        await self.page.fill("#token-input", token)
        await self.page.click("#login-form button[type=submit]")


@asynccontextmanager
async def dashboard(
    node: TradingNode, viewport: dict[str, int] | None = None, app: FastAPI | None = None
) -> AsyncIterator[Dashboard]:
    """The node's API (`app`, else one built here with its tokens) on a loopback port and a
    Chromium page (not yet opened) beside it."""
    tokens: Tokens | None = None
    if app is None:
        app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
            yield Dashboard(page, app, tokens, server.url)
            await browser.close()
    finally:
        await server.stop()


async def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    await page.screenshot(path=str(shot), full_page=full_page)
    return shot
