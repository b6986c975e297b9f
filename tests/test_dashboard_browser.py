"""The dashboard in real headless Chromium: a paper position shows, the emergency stop halts,
arbitrage cycles appear as they end and a held asset raises a warning."""

from __future__ import annotations

from decimal import Decimal

from playwright.async_api import expect

from dashboard_support import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    TALL,
    dashboard,
    require_chromium,
    screenshot,
)
from test_api_support import next_candle, replayed_node, resting_buy
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side, TradingState
from tradeguard.storage.arb_repository import load_arb_executions
from triangular_node_support import (
    AFTER_BURST_MS,
    HOLD_PARAMS,
    RATE_LIMITED_RISK,
    feed_universe_quotes,
    paper_arb_config,
    started_paper_arb_node,
)

__all__ = ["ARGS", "ARTIFACTS", "CHROMIUM"]  # the rig's names, as other dashboard tests import them


async def test_dashboard_shows_a_paper_position_and_the_emergency_stop_halts_trading(
    tmp_path, data_dir
):
    require_chromium()
    node = await replayed_node(tmp_path, data_dir)
    buy = await node.submit(
        OrderIntent("signals", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET,
                    signal={"reason": "ma cross up", "fast": "46210.5"})
    )  # fmt: skip
    assert buy.ok
    next_candle(node)
    cids = [await resting_buy(node) for _ in range(2)]
    async with dashboard(node, TALL) as board:
        page, tokens = board.page, board.tokens
        await board.log_in(tokens.trader)

        positions = page.locator("#positions tbody tr")
        await expect(positions).to_have_count(1)
        await expect(page.locator("#user-streams")).to_have_text("user streams: paper: none")
        await expect(positions.first).to_contain_text("BTC/USDT")
        await expect(positions.first).to_contain_text("0.001")
        await expect(page.locator("#open-orders tbody tr")).to_have_count(2)
        await expect(page.locator("#trades tbody tr").first).to_contain_text("ma cross up")
        fill = node.storage.load_fills(limit=1, newest_first=True)[0]
        fee_cell = page.locator("#trades tbody tr").first.locator("td").nth(6)
        await expect(fee_cell).to_have_text(f"{fill.fee:.4f} {fill.fee_asset}")  # in its asset
        await expect(page.locator("#ws-status")).to_have_text("live")
        await expect(page.locator("#state-badge")).to_have_text("ACTIVE")
        # the replay's place in its data: all of it done
        await expect(page.locator("#mode")).to_have_text("mode paper \u00b7 candle 200 of 200")
        await expect(page.locator('#limits [data-limit="Daily loss"]')).to_contain_text("%")
        # each limit reads as what is used of it, in its unit ("2.56 of 10.00 %"), with the
        # share of the limit apart: "25.6% of 10.00 %" read as a 25.6 % drawdown
        risk = await page.evaluate(
            "t => fetch('/api/v1/state', {headers: {Authorization: 'Bearer ' + t}})"
            ".then(r => r.json()).then(s => s.risk)",
            tokens.trader,
        )
        for label, lim in (("Current drawdown", risk["breakers"]["drawdown"]),
                           ("Trades today", risk["limits"]["trades_today"])):  # fmt: skip
            pct = Decimal(lim["used_pct"])
            want = f"{lim['used']} of {lim['limit']} {lim['unit']} ({pct:.1f}% used)"
            row = page.locator(f'#limits [data-limit="{label}"]')
            await expect(row).to_contain_text(want)
        await expect(page.locator("#arb")).to_be_hidden()  # no arbitrage on this node

        # a new order placed on the server appears through the WebSocket, no reload
        cids.append(await resting_buy(node))
        await expect(page.locator("#open-orders tbody tr")).to_have_count(3)

        await page.click("#stop-btn")
        await expect(page.locator("#stop-dialog")).to_be_visible()
        assert node.risk.state is TradingState.ACTIVE  # nothing happens before confirming
        await page.click("#confirm-stop")
        await expect(page.locator("#state-badge")).to_have_text("HALTED")
        await expect(page.locator("#open-orders tbody tr")).to_have_count(0)
        await expect(page.locator("#state-reason")).to_contain_text("HALTED")
        await screenshot(page, "dashboard.png")
    assert node.risk.state is TradingState.HALTED
    assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in cids)
    assert await node.venues["paper"].fetch_open_orders() == []
    kill = node.storage.load_events(kind_prefix="api.kill")
    assert kill[0].data["token_id"] == tokens.trader_id
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    node.close()


def _pct(value: object) -> str:
    return f"{float(str(value)):+.3f}%"


async def test_arbitrage_panel_shows_cycles_as_they_end_and_warns_of_a_held_asset(tmp_path):
    require_chromium()
    node = await started_paper_arb_node(
        paper_arb_config(tmp_path, HOLD_PARAMS, risk=RATE_LIMITED_RISK)
    )
    try:
        async with dashboard(node, TALL) as board:
            page, tokens = board.page, board.tokens
            await board.log_in(tokens.viewer)
            # A triangular strategy is configured: the panel is there before any cycle.
            await expect(page.locator("#arb")).to_be_visible()
            await expect(page.locator('.empty[data-for="arb-cycles"]')).to_be_visible()
            await expect(page.locator("#ws-status")).to_have_text("live")

            await feed_universe_quotes(node)  # one cycle, completed
            (done,) = load_arb_executions(node.storage)
            assert done["outcome"] == "completed"
            rows = page.locator("#arb-cycles tbody tr")
            await expect(rows).to_have_count(1)
            await expect(rows.first.locator(".outcome.completed")).to_have_text("completed")
            await expect(rows.first).to_contain_text(done["cycle"]["path"])
            await expect(rows.first).to_contain_text(_pct(done["expected_profit_pct"]))
            await expect(rows.first).to_contain_text(_pct(done["legs"]["actual_profit_pct"]))
            await expect(page.locator("#arb-held")).to_be_hidden()
            figures = page.locator("#arb-summary")
            await expect(figures.locator('[data-figure="cycles"]')).to_contain_text("1 completed")
            await expect(figures.locator('[data-figure="win rate"]')).to_contain_text("100.0%")

            await feed_universe_quotes(node, AFTER_BURST_MS)  # the next one holds ETH
            held = load_arb_executions(node.storage, outcome="held")[0]
            (asset, amount), *_ = held["legs"]["held"].items()
            await expect(rows).to_have_count(2)
            await expect(rows.first.locator(".outcome.held")).to_have_text("held")
            warning = page.locator("#arb-held")
            await expect(warning).to_be_visible()
            await expect(warning).to_contain_text(f"{amount} {asset}")
            await expect(warning).to_contain_text("1 held cycle")
            await expect(figures.locator('[data-figure="cycles"]')).to_contain_text("1 held")
            shot = await screenshot(page, "dashboard-arbitrage.png")
    finally:
        await node.stop_strategies()
        node.close()
    assert shot.stat().st_size > 10_000


async def test_dashboard_shows_a_coin_valued_account_beyond_cents(tmp_path, data_dir):
    # A BTC-valued account (the token-unlock rehearsal) read "Unrealized 0.00" beside an open
    # position worth 0.0097 BTC (about 1,000 USD): every money figure had two places.
    from node_support import paper_config, write_slice
    from tradeguard.config import Config
    from tradeguard.node import build_node

    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, tmp=tmp_path)
    doc = cfg.model_dump(mode="json")
    doc["node"]["valuation_asset"] = "BTC"
    node = build_node(Config.model_validate(doc))
    await node.start()
    await node.run()
    buy = await node.submit(
        OrderIntent("signals", "paper", "BTC/USDT", Side.BUY, Decimal("0.002"), OrderType.MARKET)
    )
    assert buy.ok
    next_candle(node)
    try:
        async with dashboard(node, TALL) as board:
            page, tokens = board.page, board.tokens
            await board.log_in(tokens.viewer)
            await expect(page.locator("#positions tbody tr")).to_have_count(1)
            state = node.figures()
            await expect(page.locator("#equity")).to_have_text(f"{state.equity:,.6f} BTC")
            await expect(page.locator("#unrealized")).to_have_text(f"{state.unrealized_pnl:,.6f}")
    finally:
        node.close()


async def test_arbitrage_figures_count_a_settled_pair_at_what_it_paid(tmp_path):
    # a cross-venue pair recorded at 1 per contract pair (a win) that paid nothing at settlement
    # reads as a loss in the arbitrage figures and the strategies table once it settles
    from test_arb_api_settled import TS, pair_row
    from tradeguard.model.events import Event, EventKind

    require_chromium()
    node = await started_paper_arb_node(paper_arb_config(tmp_path))
    gateway = node.strategies[0].ctx.execution_gateway("pm", "paper")  # type: ignore[union-attr]
    rid = gateway.record_execution(pair_row("completed", "0.60", "9.40"))
    try:
        async with dashboard(node, TALL) as board:
            page, tokens = board.page, board.tokens
            await board.log_in(tokens.viewer)
            await expect(page.locator("#ws-status")).to_have_text("live")
            figures = page.locator("#arb-summary")
            await expect(figures.locator('[data-figure="win rate"]')).to_have_text(
                "win rate: 100.0%"
            )
            await expect(figures.locator('[data-figure="profit"]')).to_contain_text("0.6000 USD")
            legs = ("FED-YES", "FED-NO")
            assert gateway.observe_settlement("k", legs, Decimal("-9.40"), TS + 1, Decimal("0.60"),
                                              rid, Decimal("9.40"))  # fmt: skip
            gateway.publish(Event(EventKind.ARB_SETTLED, TS + 1, {"pair_id": "fed"}, "paper",
                                  legs[0], "pm"))  # fmt: skip
            await expect(figures.locator('[data-figure="win rate"]')).to_have_text("win rate: 0.0%")
            await expect(figures.locator('[data-figure="profit"]')).to_contain_text("-9.4000 USD")
            row = page.locator('#strategies tbody tr[data-strategy="pm"]')
            await expect(row).to_contain_text("0.0%")
            await expect(row).to_contain_text("-9.40")
    finally:
        await node.stop_strategies()
        node.close()
