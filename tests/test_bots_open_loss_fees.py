"""A bot's open loss counts what its open round trip has already paid (its entry fee), as its
closed trades' P&L does: the figure the daily limit reads is the trade's P&L at the mark."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, add_bot, desk
from test_api_support import replayed_node
from test_bots_open_loss import _hold_60_usd_at_40000
from test_bots_weekly_loss import _ms, _price_at


async def test_the_entry_fee_of_an_open_position_counts_towards_the_daily_limit(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    try:
        add_bot(node, "alpha", daily_loss_usd="20", max_position_usd="1000",
                one_position_per_symbol=False, max_losing_streak=10)  # fmt: skip
        ts = _ms("2022-01-01T10:00")
        await _hold_60_usd_at_40000(node, ts)
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
    finally:
        node.close()
