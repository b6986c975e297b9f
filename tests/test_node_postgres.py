"""The same replay on SQLite and on the real PostgreSQL server gives the same figures exactly."""

from __future__ import annotations

import pytest

from node_support import node_for, paper_config, write_slice
from tradeguard.model import TradingState


async def _run(url: str, data, tmp_path):
    node = node_for(paper_config(url, data, tmp=tmp_path))
    await node.start()
    summary = await node.run()
    fills = node.storage.load_fills()
    balances = {(b.venue, b.asset): b.total for b in node.storage.load_balances()}
    node.close()
    return summary, fills, balances


@pytest.mark.postgres
async def test_replay_on_postgres_matches_sqlite_to_the_last_decimal(tmp_path, data_dir, pg_url):
    data = write_slice(data_dir, tmp_path / "btc.csv", 4000)
    lite, lite_fills, lite_bal = await _run(f"sqlite:///{tmp_path / 'a.db'}", data, tmp_path)
    pg, pg_fills, pg_bal = await _run(pg_url, data, tmp_path)
    assert lite.orders > 0 and lite.fills > 0
    for field in (
        "orders",
        "fills",
        "closed_trades",
        "winning_trades",
        "realized_pnl",
        "fees",
        "end_equity",
        "max_drawdown_pct",
    ):
        assert getattr(pg, field) == getattr(lite, field), field
    assert [(f.trade_id, f.price, f.amount, f.fee) for f in pg_fills] == [
        (f.trade_id, f.price, f.amount, f.fee) for f in lite_fills
    ]
    assert pg_bal == lite_bal


@pytest.mark.postgres
async def test_restart_on_postgres_resumes_state(tmp_path, data_dir, pg_url):
    data = write_slice(data_dir, tmp_path / "btc.csv", 2000)
    first, _, _ = await _run(pg_url, data, tmp_path)
    node = node_for(paper_config(pg_url, data, tmp=tmp_path))
    assert node.resumed
    await node.start()
    again = await node.run()
    assert again.events == 0 and again.orders == first.orders
    assert again.end_equity == first.end_equity
    assert node.risk.state in (TradingState.ACTIVE, TradingState.REDUCING)
    node.close()
