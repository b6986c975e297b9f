"""Run figures: a strategy's totals (trades, wins, P&L) stay equal to its closed trades across
restarts; the run's drawdown is the deepest fall from an equity peak."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from node_support import node_for, paper_config, write_slice
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


async def test_run_reports_the_deepest_fall_from_an_equity_peak(tmp_path: Path) -> None:
    # Equity = 1,000 USDT + 10 BTC at each close: peak 2,200 at 120, then lows 2,100 and 2,050.
    closes = ["100", "120", "110", "115", "105", "118", "108"]
    rows = [f"2022-01-01 00:{i:02d}:00.000000,{c},{c},{c},{c},1000" for i, c in enumerate(closes)]
    data = tmp_path / "btc.csv"
    data.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, tmp=tmp_path)
    cfg.venues[0].balances = {"USDT": Decimal(1000), "BTC": Decimal(10)}
    node = node_for(cfg)
    try:
        await node.start()
        summary = await node.run()
    finally:
        node.close()
    assert summary.start_equity == Decimal(2000)
    assert summary.end_equity == Decimal(2080)
    assert summary.max_drawdown_pct == (Decimal(2200) - Decimal(2050)) / Decimal(2200) * 100
