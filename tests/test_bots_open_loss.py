"""A bot's loss limits count what its open positions lose at the mark, not only closed trades:
a bot holding a position 30 USD under water with daily_loss_usd = 20 opens nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from bots_support import SYMBOL, add_bot, desk
from test_api_support import replayed_node
from test_bots_weekly_loss import _ms, _price_at
from tradeguard.node import TradingNode


def _codes(node: TradingNode) -> list[str]:
    verdict = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
    return [c for c in verdict["codes"] if c.startswith("BOT_")] or ["approved"]


async def _hold_60_usd_at_40000(node: TradingNode, ts: int) -> None:
    d = desk(node)
    await _price_at(node, ts, Decimal(40000))
    ask = {"symbol": SYMBOL, "side": "buy", "score": "1"}
    conf = d.validate("alpha", ask)["confirmation_id"]
    result = await d.execute("alpha", {**ask, "confirmation_id": conf}, by="test")
    assert result["status"] == "submitted", result
    await _price_at(node, ts + 60_000, Decimal(40000))  # the entry has filled


@asynccontextmanager
async def alpha_holding_60_usd(
    tmp_path: Path, data_dir: Path
) -> AsyncIterator[tuple[TradingNode, int]]:
    """A replayed node whose bot "alpha" (daily_loss_usd 20) holds 60 USD bought at 40000;
    yields the node and the entry's timestamp, closes the node after."""
    node = await replayed_node(tmp_path, data_dir)
    try:
        add_bot(node, "alpha", daily_loss_usd="20", max_position_usd="1000",
                one_position_per_symbol=False, max_losing_streak=10)  # fmt: skip
        ts = _ms("2022-01-01T10:00")
        await _hold_60_usd_at_40000(node, ts)
        yield node, ts
    finally:
        node.close()


async def test_an_open_loss_past_the_daily_limit_stops_the_bot_s_entries(tmp_path, data_dir):
    async with alpha_holding_60_usd(tmp_path, data_dir) as (node, ts):
        assert _codes(node) == ["approved"]  # nothing lost yet: adding is allowed
        await _price_at(node, ts + 120_000, Decimal(28000))  # 30 % down: about 18 USD open loss
        assert _codes(node) == ["approved"]
        await _price_at(node, ts + 180_000, Decimal(20000))  # half: about 30 USD open loss
        verdict = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
        assert "BOT_DAILY_LOSS" in verdict["codes"], verdict
        reason = next(r for r in verdict["reasons"] if "daily_loss_usd" in r)
        assert "open positions" in reason, reason
        # a close still goes: it is what ends the loss
        close = desk(node).validate(
            "alpha", {"symbol": SYMBOL, "side": "sell", "reduce_only": True}
        )
        assert "BOT_DAILY_LOSS" not in close["codes"], close


async def test_an_open_gain_does_not_buy_back_a_realized_daily_loss(tmp_path, data_dir):
    async with alpha_holding_60_usd(tmp_path, data_dir) as (node, ts):
        await _price_at(node, ts + 120_000, Decimal(20000))
        await desk(node).close_positions("alpha")  # about 30 USD realized loss
        await _price_at(node, ts + 180_000, Decimal(20000))
        assert node.portfolio.closed_trades and node.portfolio.closed_trades[-1].pnl < -29
        assert _codes(node) == ["BOT_DAILY_LOSS"]
