"""The dashboard's live stream in real headless Chromium: logging out and in again within the
retry delay leaves one stream, not a chain of sockets each closing the next every two seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from test_api_support import build_app, replayed_node
from tradeguard.api.server import ApiServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


async def test_logout_and_login_again_keeps_one_live_stream(tmp_path, data_dir):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/services.sh` (installs chromium)")
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = await browser.new_page()
            opened: list[object] = []
            page.on("websocket", lambda ws: opened.append(ws))
            await page.goto(f"{server.url}/")
            await page.fill("#token-input", tokens.viewer)
            await page.click("#login-form button[type=submit]")
            await expect(page.locator("#ws-status")).to_have_text("live")
            # switch to the trader token at once: the retry the logout's close scheduled must
            # not close the new stream when it fires
            await page.click("#logout")
            await page.fill("#token-input", tokens.trader)
            await page.click("#login-form button[type=submit]")
            await expect(page.locator("#ws-status")).to_have_text("live")
            await asyncio.sleep(7)  # three retry delays
            assert len(opened) == 2, f"{len(opened)} streams opened; two were asked for"
            await expect(page.locator("#ws-status")).to_have_text("live")
            await browser.close()
    finally:
        await server.stop()
        node.close()
