"""Bot trades read back in a stable order, on SQLite and PostgreSQL."""

from __future__ import annotations

from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database

pytest_plugins = ["storage_fixtures"]


def test_trades_of_one_millisecond_come_back_in_one_order_on_every_read(storage_db: Database):
    rows = BotRows(storage_db)
    for trade_id in ("bt_c", "bt_a", "bt_b"):  # saved in one millisecond, ids not in order
        rows.save_trade(trade_id, "alpha", "BTC/USDT", "sending", None, {"n": trade_id}, 1_000)
    rows.save_trade("bt_0", "alpha", "BTC/USDT", "sending", None, {}, 999)
    oldest_first = [t["trade_id"] for t in rows.trades_in("sending")]
    assert oldest_first == ["bt_0", "bt_a", "bt_b", "bt_c"]
    newest_first = [t["trade_id"] for t in rows.trades("alpha", limit=2)]
    assert newest_first == ["bt_c", "bt_b"]  # a page of two never swaps for bt_a
    assert [t["trade_id"] for t in rows.trades(limit=10)] == ["bt_c", "bt_b", "bt_a", "bt_0"]
