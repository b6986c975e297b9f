"""The dashboard in real headless Chromium follows the market: equity and unrealized P&L move
with the marks even when no order, fill or risk event is pushed."""

from __future__ import annotations

from decimal import Decimal

from playwright.async_api import expect

from dashboard_support import TALL, dashboard, require_chromium
from test_api_support import next_candle, replayed_node
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.sandbox.testing import eventually


async def test_equity_and_unrealized_pnl_follow_the_marks_without_events(tmp_path, data_dir):
    require_chromium()
    node = await replayed_node(tmp_path, data_dir)
    buy = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.01"), OrderType.MARKET)
    )
    assert buy.ok
    next_candle(node)
    try:
        async with dashboard(node, TALL) as board:
            page, tokens = board.page, board.tokens
            states: list[str] = []
            page.on("response", lambda r: states.append(r.url) if "/state" in r.url else None)
            await board.log_in(tokens.viewer)
            mark_cell = page.locator("#positions tbody tr").first.locator("td").nth(5)
            await expect(page.locator("#ws-status")).to_have_text("live")
            await expect(mark_cell).not_to_have_text("")
            await eventually(lambda: len(states) >= 2)  # the refresh after the stream's hello
            await page.wait_for_load_state("networkidle")
            before_equity = await page.locator("#equity").inner_text()
            before_mark = await mark_cell.inner_text()
            # the market moves 10 % with nothing traded: no event reaches the stream
            mark = node.portfolio.marks["BTC/USDT"] * Decimal("1.1")
            node.portfolio.marks["BTC/USDT"] = mark.quantize(Decimal("0.01"))
            await expect(mark_cell).not_to_have_text(before_mark, timeout=20_000)
            await expect(page.locator("#equity")).not_to_have_text(before_equity)
            # the unrealized P&L in percent of the entry notional sits beside it
            (pos,) = node.portfolio.open_positions()
            pct = pos.unrealized_pnl_pct(node.portfolio.marks["BTC/USDT"])
            assert pct is not None and pct > 5
            pct_cell = page.locator("#positions tbody tr").first.locator("td").nth(7)
            await expect(pct_cell).to_have_text(f"{pct:,.2f}")
    finally:
        node.close()
