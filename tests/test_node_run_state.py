"""A strategy's run totals (trades, wins, P&L) stay equal to its closed trades across restarts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from node_support import paper_config, write_slice
from tradeguard.node import TradingNode


async def test_run_totals_match_the_journal_after_a_restart_that_trades_on(
    tmp_path: Path, data_dir: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    data = tmp_path / "btc.csv"
    write_slice(data_dir, data, 1500)
    first = TradingNode(paper_config(db, data))
    try:
        await first.run()
        before = first.storage.load_run_state("ma_cross")
    finally:
        first.close()
    assert before is not None and before.total_trades > 0

    write_slice(data_dir, data, 4000)  # the same file, grown: the second run trades on
    second = TradingNode(paper_config(db, data))
    try:
        await second.run()
        state = second.storage.load_run_state("ma_cross")
        rows = second.storage.load_position_rows(status="closed", strategy_id="ma_cross")
    finally:
        second.close()
    pnls = [Decimal(str(r["pnl"])) for r in rows]
    assert state is not None and state.total_trades == len(pnls) > before.total_trades
    assert state.winning_trades == sum(p > 0 for p in pnls)
    assert state.losing_trades == sum(p <= 0 for p in pnls)
    assert state.total_pnl == sum(pnls, Decimal(0))
