"""The execution gateway (multi-leg strategies' order path) holds an intent under a signal bot's
name to the bot's gate, as the strategy intent path and POST /api/v1/orders do."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from bots_support import SYMBOL, mid, quote, rig
from test_triangular_exec_support import START_MS, small_universe
from tradeguard.bots.spec import BotSpec
from tradeguard.clock import SimulatedClock
from tradeguard.model import OrderIntent, OrderType, Side, dec
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.storage.bot_rows import BotRows
from triangular_node_support import ARB_PARAMS, paper_arb_config

SPEC = {"max_order_usd": "50", "max_position_usd": "100", "daily_loss_usd": "20",
        "symbols": ["ETH/USDT"]}  # fmt: skip


async def test_a_gateway_leg_under_a_bots_name_is_refused_past_its_gate(tmp_path: Path) -> None:
    node = TradingNode(paper_arb_config(tmp_path, {**ARB_PARAMS, "cooldown_s": 3600}))
    try:
        await node.start()
        assert isinstance(node.clock, SimulatedClock)
        node.clock.advance_to(START_MS)
        t = small_universe().tickers["ETH/USDT"]
        await node.on_quote(
            Quote("ETH/USDT", START_MS, dec(t.bid), dec(t.bid_size), dec(t.ask), dec(t.ask_size))
        )
        for name, enabled in (("alpha", True), ("beta", False)):
            spec = BotSpec.parse(name, dict(SPEC)).to_doc()
            BotRows(node.db).save_bot(name, enabled, spec, START_MS)
        ctx: Any = node.strategies[0].ctx
        for bot, code in (("alpha", "BOT_ORDER_ROUTE"), ("beta", "BOT_DISABLED")):
            gateway = ctx.execution_gateway(bot, "paper")
            leg = OrderIntent(bot, "paper", "ETH/USDT", Side.BUY, Decimal("0.01"),
                              OrderType.LIMIT, dec(t.ask), tag="arb-leg")  # fmt: skip
            result = await gateway.submit(leg)
            assert result.status == "denied" and result.code == code, result
        assert [o for o in node.storage.load_orders() if o.strategy_id in ("alpha", "beta")] == []
        # the node's own strategy still trades through its gateway
        own = OrderIntent("tri", "paper", "ETH/USDT", Side.BUY, Decimal("0.01"),
                          OrderType.LIMIT, dec(t.ask), tag="arb-leg")  # fmt: skip
        assert (await ctx.execution_gateway("tri", "paper").submit(own)).ok
    finally:
        node.close()


async def test_a_gateway_asked_under_a_bots_name_leaves_the_bots_positions_booked(
    tmp_path: Path, data_dir: Path
) -> None:
    r = await rig(tmp_path, data_dir)
    await quote(r.node, mid(r.node))
    signal = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.75"}
    try:
        # a strategy asking for the bot's order path: its legs are refused at the bot's gate,
        # and the bot's own fills must still book its position
        r.node._ctx.execution_gateway("alpha", "paper")
        checked = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.trader)
        conf = checked.json()["confirmation_id"]
        first = await r.http.post("/api/v1/trades/execute", headers=r.trader,
                                  json={**signal, "confirmation_id": conf})  # fmt: skip
        assert first.status_code == 201, first.text
        await quote(r.node, mid(r.node))
        held = [p for p in r.node.portfolio.open_positions() if p.strategy_id == "alpha"]
        assert len(held) == 1, "the bot's filled entry booked no position"
        for _ in range(6):  # past the risk engine's cooldown after a trade
            await quote(r.node, mid(r.node))
        again = await r.http.post("/api/v1/safety/validate-trade", json=signal, headers=r.trader)
        assert again.json()["codes"][:1] == ["BOT_ONE_POSITION"], again.text
    finally:
        await r.http.aclose()
        r.node.close()
