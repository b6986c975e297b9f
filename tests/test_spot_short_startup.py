"""A database an older version left holding a spot short (a negative spot position and balance,
written before spot shorts were refused) is named at start-up and trading halted: no crash, and
no equity acted on that counts the short as nothing until a mark prices it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from node_support import node_for, paper_config, write_slice
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side, TradingState
from tradeguard.model.fill import Fill
from tradeguard.model.position import Position
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal


def _old_short(url: str) -> None:
    """Write, through the storage layer, what a spot sale without coins used to leave."""
    db = Database(url)
    db.migrate()
    st = Storage(db)
    st.insert_fill(
        Fill("paper", "BTC/USDT", "c1", "v1", "t1", Side.SELL, D(46000), D("0.05"), D(0),
             "USDT", LiquiditySide.TAKER, 1_640_995_200_000),
        "s1",
    )  # fmt: skip
    st.save_position(Position("paper", "BTC/USDT", "s1", quantity=D("-0.05"), avg_entry=D(46000)))
    st.upsert_balances(
        "paper",
        [Balance("paper", "USDT", D(12_300)), Balance("paper", "BTC", D("-0.05"))],
    )
    db.dispose()


async def test_a_database_holding_a_spot_short_halts_at_start_naming_it(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "slice.csv", 50)
    url = f"sqlite:///{tmp_path}/tg.db"
    cfg = paper_config(url, data, strategies=False, tmp=tmp_path)
    node = node_for(cfg)
    await node.start()  # a clean database: nothing to say
    assert node.risk.state is TradingState.ACTIVE
    await node.stop()
    node.close()
    _old_short(url)
    for _ in range(2):  # said again at every start while the records stand
        node = node_for(cfg)
        try:
            await node.start()
            assert node.risk.state is TradingState.HALTED
            assert node.risk.state_by == "spot_short"
            reason = node.risk.state_reason
            assert "position paper BTC/USDT (s1) -0.05" in reason, reason
            assert "balance paper BTC -0.05" in reason, reason
            assert "tradeguard resume" in reason, reason
        finally:
            await node.stop()
            node.close()
