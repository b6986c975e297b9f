"""A SQLite database binds None without the sqlite3 module's adaptation walk, storing NULL."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tradeguard.model import Order, OrderType, Side
from tradeguard.storage import Database, Storage
from tradeguard.storage.tables import orders


def _none_adapter() -> object:
    return sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol))


def test_sqlite_database_registers_a_c_adapter_for_none_only(tmp_path: Path) -> None:
    Database(f"sqlite:///{tmp_path / 'a.db'}").dispose()
    adapter = _none_adapter()
    assert adapter is not None
    # C code (no Python frame per NULL), and it gives None back for any value it is handed
    assert type(adapter).__name__ == "builtin_function_or_method"
    assert adapter(None) is None
    # no base type is adapted: the module keeps binding str, int and float directly
    for base in (str, int, float, bytearray):
        assert (base, sqlite3.PrepareProtocol) not in sqlite3.adapters
    # a second database does not register it again
    Database(f"sqlite:///{tmp_path / 'b.db'}").dispose()
    assert _none_adapter() is adapter


def test_none_values_are_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    db = Database(f"sqlite:///{path}")
    db.create_at_head()
    storage = Storage(db)
    order = Order(
        client_order_id="c1", strategy_id="s", venue="paper", symbol="ETH/BTC", side=Side.BUY,
        type=OrderType.MARKET, amount=Decimal("1"),
    )  # fmt: skip
    assert order.price is None and order.stop_loss is None and order.take_profit is None
    storage.upsert_order(order)  # one row as it comes, one held by a backtest's write batch
    with storage.holding_connection(), storage.unit_of_work(batch=True):
        order.client_order_id = "c2"
        storage.upsert_order(order)
    with db.engine.connect() as conn:
        assert len(conn.execute(select(orders)).all()) == 2
    db.dispose()
    raw = sqlite3.connect(path)
    try:
        kinds = raw.execute(
            "SELECT typeof(price), typeof(stop_loss), typeof(take_profit) FROM orders"
        ).fetchall()
    finally:
        raw.close()
    assert kinds == [("null", "null", "null")] * 2
