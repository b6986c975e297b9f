"""A bot's closed trade in a non-USD quote (ETH/BTC: its P&L is BTC) keeps the USD value it had
when it closed: converted at BTC's price at the close, stored with it, so the bot's history does
not move with BTC every day. A trade closed before the rate was stored (or with no price for the
quote at its close) is converted at the current price, and the API counts such trades
(`closed_at_current_price`)."""

from __future__ import annotations

from decimal import Decimal

from bots_support import desk, mid, quote
from test_bots_quote_usd import ETH_BTC, _eth_btc_node
from tradeguard.execution.order_events import closed_data
from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.position import ClosedTrade, Position
from tradeguard.node import TradingNode

LOST_BTC = Decimal("-0.0005")


def _close(node: TradingNode, ts: int, announce: bool = True) -> None:
    """Close bot "eth"'s 0.02 ETH bought at 0.05 and sold at 0.025 (0.0005 BTC lost) at `ts`, as
    a fill does: the row closed, then `position.closed` published (`announce`: False for a
    row an older version closed, with no rate kept)."""
    pos = Position("paper", "ETH/BTC", "eth", quantity=Decimal("0.02"), avg_entry=ETH_BTC)
    lost = ClosedTrade("paper", "ETH/BTC", "eth", Side.BUY, ETH_BTC, ETH_BTC / 2,
                       Decimal("0.02"), LOST_BTC, Decimal(-50), ts, ts)  # fmt: skip
    with node.storage.transaction():
        node.storage.save_position(pos, ETH_BTC)
        node.storage.close_position(lost, pos)
        if announce:
            node.bus.publish(Event(EventKind.POSITION_CLOSED, ts, closed_data(lost), "paper",
                                   "ETH/BTC", "eth"))  # fmt: skip


def _figures(node: TradingNode) -> tuple[dict, dict, dict]:
    bot = desk(node).summary("eth")["bots"][0]
    status = next(b for b in desk(node).status()["bots"] if b["bot_id"] == "eth")
    return bot, status, desk(node).stats("eth")


async def test_a_btc_trade_keeps_its_usd_value_at_the_close(tmp_path, data_dir):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        btc_then = mid(node)
        _close(node, node.clock.now_ms())
        at_close = LOST_BTC * btc_then
        await quote(node, btc_then * 2)  # BTC doubles later the same day
        assert mid(node) == btc_then * 2
        bot, status, stats = _figures(node)
        # was: -0.0005 BTC at today's price, twice the loss the trade made in USD
        assert abs(Decimal(bot["realized_total"]) - at_close) < Decimal("0.01"), (bot, at_close)
        assert abs(Decimal(bot["realized_today"]) - at_close) < Decimal("0.01"), bot
        assert abs(Decimal(status["realized_today"]) - at_close) < Decimal("0.01"), status
        assert abs(Decimal(stats["pnl"]) - at_close) < Decimal("0.01"), stats
        assert bot["closed_at_current_price"] == 0, bot
        assert stats["closed_at_current_price"] == 0, stats
    finally:
        node.close()


async def test_a_trade_closed_without_a_stored_rate_says_it_is_at_the_current_price(
    tmp_path, data_dir
):
    node = await _eth_btc_node(tmp_path, data_dir)
    try:
        _close(node, node.clock.now_ms(), announce=False)  # closed by an older version
        await quote(node, mid(node) * 2)
        now_usd = LOST_BTC * mid(node)
        bot, _, stats = _figures(node)
        assert abs(Decimal(bot["realized_total"]) - now_usd) < Decimal("0.01"), (bot, now_usd)
        assert bot["closed_at_current_price"] == 1, bot
        assert stats["closed_at_current_price"] == 1, stats
    finally:
        node.close()
