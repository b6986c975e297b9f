"""A bot's USD limits hold on a symbol quoted in another currency: on ETH/BTC its sizes and
positions are converted through the node's BTC/USDT price, and with no price for the quote
its entries are refused with the reason, not compared as if BTC were USD."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bots_support import SYMBOL, add_bot, desk, mid, quote, rig
from tradeguard.bots.spec import BotSpec
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.model.position import ClosedTrade, Position
from tradeguard.node import TradingNode
from tradeguard.node.bot_strategy import bot_gate
from tradeguard.storage.bot_rows import BotRows

ETH_BTC = Decimal("0.05")


async def _eth_btc_node(tmp_path: Path, data_dir: Path, pair: str = "ETH/BTC") -> TradingNode:
    """A node trading BTC/USDT (its replayed candles) and quoting `pair` at 0.05; bot "eth"
    (max_order_usd 50, max_position_usd 100) may trade `pair`."""
    r = await rig(tmp_path, data_dir)
    await r.http.aclose()
    node = r.node
    add_bot(node, "eth", symbols=[pair], max_order_usd="50", max_position_usd="100",
            require_confirmation=False, sizing={"kind": "fixed"})  # fmt: skip
    base, quote_asset = pair.split("/")
    node.market.add_instrument(
        Instrument("paper", pair, base, quote_asset, Decimal("0.00001"), Decimal("0.0001"))
    )
    await quote(node, mid(node))
    ts = node.clock.now_ms()
    await node.on_quote(Quote(pair, ts, ETH_BTC, Decimal(50), ETH_BTC, Decimal(50), venue="paper"))
    node.portfolio.mark(pair, ETH_BTC, "paper")
    return node


def _lost_today(node: TradingNode, ts: int) -> None:
    """Store bot "eth"'s trade closed at `ts`: 0.02 ETH bought at 0.05, sold at 0.025, so
    0.0005 BTC lost."""
    pos = Position("paper", "ETH/BTC", "eth", quantity=Decimal("0.02"), avg_entry=ETH_BTC)
    lost = ClosedTrade("paper", "ETH/BTC", "eth", Side.BUY, ETH_BTC, ETH_BTC / 2,
                       Decimal("0.02"), Decimal("-0.0005"), Decimal(-50), ts, ts)  # fmt: skip
    with node.storage.transaction():
        node.storage.save_position(pos, ETH_BTC)
        node.storage.close_position(lost, pos)


def _respec(node: TradingNode, ts: int, **changes: object) -> None:
    """Save bot "eth"'s spec at `ts` with `changes` made to it."""
    doc = {**BotRows(node.db).bots()[-1].spec, **changes}
    BotRows(node.db).save_bot("eth", True, BotSpec.parse("eth", doc).to_doc(), ts)


async def test_an_eth_btc_bot_is_sized_in_usd_through_the_btc_price(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        btc_usd = mid(node)
        out = desk(node).validate("eth", {"symbol": "ETH/BTC", "side": "buy", "score": "1"})
        bot_codes = [c for c in out["codes"] if c.startswith("BOT_")]
        assert bot_codes == [], out
        assert out["approved"], (out["codes"], out["reasons"])
        usd = Decimal(out["amount"]) * ETH_BTC * btc_usd  # was: 1000 ETH, about 2.3 million USD
        assert Decimal("49") <= usd <= Decimal("50"), (out, usd)
        # a strategy trading as the bot: 1 ETH is 0.05 BTC, about 2,300 USD, not 0.05 USD
        intent = OrderIntent("eth", "paper", "ETH/BTC", Side.BUY, Decimal(1), OrderType.MARKET)
        why = bot_gate(node, intent)
        assert why is not None and why[0] == "BOT_MAX_ORDER", why
        assert "max_order_usd=50" in why[1], why
        small = OrderIntent("eth", "paper", "ETH/BTC", Side.BUY, Decimal("0.01"),
                            OrderType.MARKET)  # fmt: skip
        assert bot_gate(node, small) is None  # 0.0005 BTC: about 23 USD
    finally:
        node.close()


async def test_with_no_price_for_the_quote_the_bot_s_entry_is_refused(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir, pair="ETH/XYZ")
    try:
        intent = OrderIntent("eth", "paper", "ETH/XYZ", Side.BUY, Decimal("0.01"),
                             OrderType.MARKET)  # fmt: skip
        why = bot_gate(node, intent)
        assert why is not None and why[0] == "BOT_NO_QUOTE_PRICE", why
        assert "XYZ" in why[1] and "USD" in why[1], why
        out = desk(node).validate("eth", {"symbol": "ETH/XYZ", "side": "buy", "score": "1"})
        assert "BOT_NO_QUOTE_PRICE" in out["codes"], out
    finally:
        node.close()


async def test_a_usdt_bot_is_unchanged(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        add_bot(node, "plain", require_confirmation=False)
        out = desk(node).validate("plain", {"symbol": SYMBOL, "side": "buy", "score": "1"})
        assert out["approved"], out
        assert Decimal(out["amount"]) * mid(node) <= Decimal(60), out
    finally:
        node.close()


async def test_a_realized_loss_in_btc_counts_in_usd_against_the_daily_limit(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        # the bot bought 0.02 ETH at 0.05 and sold at 0.025 today: 0.0005 BTC, about 23 USD
        ts = node.clock.now_ms()
        _lost_today(node, ts)
        _respec(node, ts, daily_loss_usd="20")
        out = desk(node).validate("eth", {"symbol": "ETH/BTC", "side": "buy", "score": "1"})
        # was: a loss of 0.0005 "USD", far under daily_loss_usd=20
        assert "BOT_DAILY_LOSS" in out["codes"], (out["codes"], out["reasons"])
    finally:
        node.close()


async def test_the_bot_s_summary_and_status_add_up_in_usd(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        btc_usd = mid(node)
        ts = node.clock.now_ms()
        # closed today: 0.0005 BTC lost (about 23 USD); open: 1 ETH bought at 0.05, marked at
        # 0.04: 0.01 BTC down (about 460 USD)
        _lost_today(node, ts)
        held = Position("paper", "ETH/BTC", "eth", quantity=Decimal(1), avg_entry=ETH_BTC)
        node.portfolio.positions[("paper", "ETH/BTC", "eth")] = held
        await node.on_quote(Quote("ETH/BTC", ts, Decimal("0.04"), Decimal(50), Decimal("0.04"),
                                  Decimal(50), venue="paper"))  # fmt: skip
        node.portfolio.mark("ETH/BTC", Decimal("0.04"), "paper")
        doc = desk(node).summary("eth")
        bot = doc["bots"][0]
        open_usd = Decimal("-0.01") * btc_usd
        closed_usd = Decimal("-0.0005") * btc_usd
        # was: -0.01 and -0.0005, BTC figures under USD names, added to USDT bots' figures
        assert abs(Decimal(bot["unrealized_pnl"]) - open_usd) < 1, (bot, open_usd)
        assert abs(Decimal(doc["unrealized_pnl"]) - open_usd) < 1, (doc, open_usd)
        assert abs(Decimal(bot["realized_today"]) - closed_usd) < 1, (bot, closed_usd)
        assert abs(Decimal(bot["realized_total"]) - closed_usd) < 1, (bot, closed_usd)
        trade = bot["active_trades"][0]
        assert Decimal(trade["unrealized_pnl"]) == Decimal("-0.01"), trade  # in the quote, BTC
        assert trade["quote"] == "BTC", trade
        assert abs(Decimal(trade["unrealized_pnl_usd"]) - open_usd) < 1, trade
        status = next(b for b in desk(node).status()["bots"] if b["bot_id"] == "eth")
        assert abs(Decimal(status["realized_today"]) - closed_usd) < 1, status
        stats = desk(node).stats("eth")  # was: pnl -0.0005, expectancy "0.00"
        assert abs(Decimal(stats["pnl"]) - closed_usd) < 1, stats
        assert abs(Decimal(stats["expectancy"]) - closed_usd) < 1, stats
    finally:
        node.close()


async def test_a_btc_loss_with_no_btc_price_is_not_read_as_usd(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        ts = node.clock.now_ms()
        _lost_today(node, ts)
        _respec(node, ts, daily_loss_usd="20", symbols=["ETH/BTC", SYMBOL])
        # BTC's price not known (a restart, before its first tick): today's 0.0005 BTC loss,
        # about 23 USD, cannot be counted in USD
        node.portfolio.marks.pop(SYMBOL)
        for marks in node.portfolio.venue_marks.values():
            marks.pop(SYMBOL, None)
        assert node.portfolio.price_of("BTC", "USD") is None
        out = desk(node).validate("eth", {"symbol": SYMBOL, "side": "buy", "score": "1"})
        # was: approved, the loss read as 0.0005 USD against daily_loss_usd=20
        assert not out["approved"], out
        assert "BOT_NO_MARK" in out["codes"], out
        reason = out["reasons"][out["codes"].index("BOT_NO_MARK")]
        assert "ETH/BTC" in reason, reason
    finally:
        node.close()
