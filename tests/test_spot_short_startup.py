"""A database an older version left holding a spot short (a negative spot position and balance,
written before spot shorts were refused) is named at start-up and trading halted: no crash, and
no equity acted on that counts the short as nothing until a mark prices it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from node_support import node_for, paper_config, write_slice
from tradeguard.config import Config
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


async def test_a_sale_of_coins_held_before_the_node_bought_any_is_no_short(
    tmp_path: Path, data_dir: Path
) -> None:
    """A negative spot position with the coins still on the venue (a wallet's BTC sold through the
    node: the position tracks the node's trades, the balance what is held) starts ACTIVE."""
    data = write_slice(data_dir, tmp_path / "slice.csv", 50)
    url = f"sqlite:///{tmp_path}/tg.db"
    doc = paper_config(url, data, strategies=False, tmp=tmp_path).model_dump(mode="json")
    [paper] = [v for v in doc["venues"] if v["name"] == "paper"]
    paper["balances"] = {"USDT": "10000", "BTC": "1"}
    cfg = Config.model_validate(doc)
    node = node_for(cfg)
    await node.start()
    await node.stop()
    node.close()
    db = Database(url)
    st = Storage(db)
    st.insert_fill(
        Fill("paper", "BTC/USDT", "c1", "v1", "t1", Side.SELL, D(46000), D("0.05"), D(0),
             "USDT", LiquiditySide.TAKER, 1_640_995_200_000),
        "external",
    )  # fmt: skip
    st.save_position(Position("paper", "BTC/USDT", "external", quantity=D("-0.05"),
                              avg_entry=D(46000)))  # fmt: skip
    st.upsert_balances(
        "paper", [Balance("paper", "USDT", D(12_300)), Balance("paper", "BTC", D("0.95"))]
    )
    db.dispose()
    node = node_for(cfg)
    try:
        await node.start()
        assert node.risk.state is TradingState.ACTIVE, node.risk.state_reason
    finally:
        await node.stop()
        node.close()
