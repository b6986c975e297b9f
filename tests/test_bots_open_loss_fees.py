"""A bot's open loss counts what its open round trip has already paid (its entry fee), as its
closed trades' P&L does: the figure the daily limit reads is the trade's P&L at the mark."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, desk
from test_bots_open_loss import alpha_holding_60_usd
from test_bots_weekly_loss import _price_at


async def test_the_entry_fee_of_an_open_position_counts_towards_the_daily_limit(tmp_path, data_dir):
    async with alpha_holding_60_usd(tmp_path, data_dir) as (node, ts):
        pos = next(p for p in node.portfolio.open_positions() if p.strategy_id == "alpha")
        assert pos.fees > 0
        # a mark where the price move alone loses just under 20 USD, the fee paid tips it over
        gross = Decimal("20") + pos.trip_pnl / 2  # trip_pnl is minus the entry fee
        mark = pos.avg_entry - gross / pos.quantity
        await _price_at(node, ts + 120_000, mark)
        unrealized = pos.unrealized_pnl(node.portfolio.mark_of(pos.venue, SYMBOL)[0])
        assert unrealized > -20 and unrealized + pos.trip_pnl < -20, (unrealized, pos.trip_pnl)
        verdict = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
        assert "BOT_DAILY_LOSS" in verdict["codes"], verdict
