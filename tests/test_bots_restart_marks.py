"""After a restart, before a symbol's first price, a bot's open loss still counts: its position
is valued at the mark guard's restored mark or the position's last stored mark; with neither,
the bot's entries wait for a price (its loss limits would be blind)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

from bots_support import SYMBOL, desk
from test_api_support import bare_paper_config
from test_bots_open_loss import alpha_holding_60_usd
from test_bots_weekly_loss import _price_at
from tradeguard.node import TradingNode
from tradeguard.node.builder import build_node

ASK = {"symbol": SYMBOL, "side": "buy", "score": "0.5"}


@asynccontextmanager
async def _restarted(
    tmp_path: Path, data_dir: Path, stored_mark: bool = True
) -> AsyncIterator[TradingNode]:
    """Yield, closed after the block, a node restarted on the database where alpha
    (daily_loss_usd 20) holds 60 USD bought at 40000, marked down to 20000 (about 30 USD open
    loss): started, no price seen yet."""
    async with alpha_holding_60_usd(tmp_path, data_dir) as (node, ts):
        await _price_at(node, ts + 120_000, Decimal(20000))
        await _price_at(node, ts + 180_000, Decimal(20000))
        node._checkpoint(node.clock.now_ms())  # as the running node does on its timer
        assert "BOT_DAILY_LOSS" in desk(node).validate("alpha", ASK)["codes"]
    if not stored_mark:
        engine = create_engine(f"sqlite:///{tmp_path / 'tg.db'}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE positions SET current_price = NULL"))
        engine.dispose()
    node = build_node(bare_paper_config(tmp_path, data_dir))
    await node.start()
    try:
        assert node.portfolio.mark_of("paper", SYMBOL)[0] is None  # no price since the start
        yield node
    finally:
        node.close()


async def test_the_open_loss_counts_at_the_stored_mark_before_the_first_price(tmp_path, data_dir):
    # was: approved, the position's 30 USD loss left out until the symbol's first tick
    async with _restarted(tmp_path, data_dir) as node:
        verdict = desk(node).validate("alpha", ASK)
        assert "BOT_DAILY_LOSS" in verdict["codes"], verdict


async def test_the_open_loss_counts_at_the_mark_guard_s_restored_mark(tmp_path, data_dir):
    async with _restarted(tmp_path, data_dir, stored_mark=False) as node:
        node.risk.mark_guard.restore({("paper", SYMBOL): Decimal(20000)})
        verdict = desk(node).validate("alpha", ASK)
        assert "BOT_DAILY_LOSS" in verdict["codes"], verdict


async def test_with_no_mark_known_the_bot_s_entries_wait_for_a_price(tmp_path, data_dir):
    async with _restarted(tmp_path, data_dir, stored_mark=False) as node:
        verdict = desk(node).validate("alpha", ASK)
        assert "BOT_NO_MARK" in verdict["codes"], verdict
        reason = verdict["reasons"][verdict["codes"].index("BOT_NO_MARK")]
        assert SYMBOL in reason and "loss limits" in reason, reason
        # a close is no entry: it still goes
        close = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "sell"})
        assert "BOT_NO_MARK" not in close["codes"], close
