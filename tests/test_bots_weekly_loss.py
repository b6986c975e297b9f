"""A bot's weekly loss limit on a paper node: losses of earlier days of the ISO week count, a
new day does not reset them, and Monday 00:00 UTC does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from bots_support import SYMBOL, add_bot, desk
from test_api_support import replayed_node
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


async def _price_at(node: TradingNode, ts: int, price: Decimal) -> None:
    """A flat one-minute candle at `price` closing at `ts` (paper orders fill on it), quotes.

    Two quotes, their mids 1 apart: a move beyond risk.max_mark_jump_pct (the halving here) is
    a suspect mark until a second, distinct update confirms it."""
    bar = replace(node.market.candles[SYMBOL], ts=ts - 60_000, open=price, high=price, low=price,
                  close=price)  # fmt: skip
    node.clock.advance_to(bar.close_ts)
    node.market.on_candle(bar)
    node.portfolio.marks[SYMBOL] = price
    node.venues["paper"].on_candle(bar)
    await node.on_quote(Quote(SYMBOL, ts - 1, price, Decimal(5), price + 2, Decimal(5)))
    await node.on_quote(Quote(SYMBOL, ts, price - 1, Decimal(5), price + 1, Decimal(5)))


async def _lose(node: TradingNode, ts: int) -> None:
    """Buy 60 USD at 40,000 and sell it at 20,000: about 30 USD lost, on the day of `ts`."""
    d = desk(node)
    await _price_at(node, ts, Decimal(40000))
    ask = {"symbol": SYMBOL, "side": "buy", "score": "1"}
    conf = d.validate("alpha", ask)["confirmation_id"]
    assert (await d.execute("alpha", {**ask, "confirmation_id": conf}, by="test"))["status"] == (
        "submitted"
    )
    await _price_at(node, ts + 60_000, Decimal(40000))  # the entry has filled
    await _price_at(node, ts + 120_000, Decimal(20000))  # the price halves
    await d.close_positions("alpha")
    await _price_at(node, ts + 180_000, Decimal(20000))  # the close has filled


def _codes(node: TradingNode) -> list[str]:
    """The bot gate's denials of a new entry (the risk engine's own, e.g. its cooldown after a
    loss, are not this test's)."""
    verdict = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "1"})
    return [c for c in verdict["codes"] if c.startswith("BOT_")] or ["approved"]


async def test_the_week_s_losses_stop_the_bot_across_days_until_monday(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)  # the data ends 2022-01-01 (a Saturday)
    try:
        add_bot(node, "alpha", daily_loss_usd="40", weekly_loss_usd="50", max_losing_streak=10)
        await _lose(node, _ms("2022-01-01T10:00"))
        assert _codes(node) == ["approved"]  # Saturday: 30 lost, both limits above
        [trade] = node.portfolio.closed_trades
        assert Decimal(-31) < trade.pnl < Decimal(-29)
        await _lose(node, _ms("2022-01-02T10:00"))  # Sunday: a new day, the same ISO week
        assert _codes(node) == ["BOT_WEEKLY_LOSS"]  # 60 this week; 30 today
        await _price_at(node, _ms("2022-01-03T00:01"), Decimal(40000))  # Monday
        assert _codes(node) == ["approved"]
    finally:
        node.close()
