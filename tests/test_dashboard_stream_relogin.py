"""The dashboard in real headless Chromium: logging out and in again within the retry delay
leaves one live stream, not a chain of sockets each closing the next every two seconds; and
quantities read as the decimal digits the API sent."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from dashboard_support import dashboard, require_chromium
from test_api_support import replayed_node


async def test_logout_and_login_again_keeps_one_live_stream(tmp_path, data_dir):
    require_chromium()
    node = await replayed_node(tmp_path, data_dir)
    try:
        async with dashboard(node) as board:
            page, tokens = board.page, board.tokens
            opened: list[object] = []
            page.on("websocket", lambda ws: opened.append(ws))
            await board.log_in(tokens.viewer)
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
    finally:
        node.close()


async def test_quantities_show_the_decimal_digits_the_api_sent(tmp_path, data_dir):
    # dust a cycle leaves (0.00000012956 BTC) read "1.2956e-7"; an 18-decimal token amount lost
    # its last digits
    require_chromium()
    node = await replayed_node(tmp_path, data_dir)
    try:
        async with dashboard(node) as board:
            page = board.page
            await page.goto(f"{board.url}/")
            shown = await page.evaluate(
                "vs => vs.map(qty)",
                ["0.00000012956", "1234.567890123456789012", "0.00100000", "-2.50", "12",
                 "1E-7", 5, None, "n/a"],
            )  # fmt: skip
            assert shown == [
                "0.00000012956", "1234.567890123456789012", "0.001", "-2.5", "12",
                "0.0000001", "5", "–", "n/a",
            ]  # fmt: skip
    finally:
        node.close()
