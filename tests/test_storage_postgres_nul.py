"""PostgreSQL's TEXT and JSONB cannot hold NUL: a string in a JSON value holding one is stored
with U+FFFD there.

A kill whose reason holds a NUL must still halt and survive a restart, and an order whose
signal holds one must still be journaled (before, both raised on PostgreSQL). SQLite keeps the
string as given.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from node_support import node_for, paper_config, write_slice
from tradeguard.model import TradingState
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import Order
from tradeguard.storage import Database, Storage
from tradeguard.storage.types import without_nul


def test_without_nul_replaces_the_character_in_strings_and_keys_only() -> None:
    assert without_nul({"a\x00": ["x\x00y", 1, None, {"k": "\x00"}]}) == {
        "a\ufffd": ["x\ufffdy", 1, None, {"k": "\ufffd"}]
    }
    plain = {"a": ["b", 2.5]}
    assert without_nul(plain) == plain


@pytest.mark.postgres
async def test_a_kill_whose_reason_holds_a_nul_halts_and_survives_a_restart_on_postgres(
    tmp_path, data_dir, pg_url
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    node = node_for(paper_config(pg_url, data, tmp=tmp_path))
    await node.start()
    try:
        await node.kill("operator: a\x00b", "api")
        assert node.risk.state is TradingState.HALTED
    finally:
        node.close()
    again = node_for(paper_config(pg_url, data, tmp=tmp_path))
    try:
        assert again.risk.state is TradingState.HALTED
    finally:
        again.close()


def _order(signal: dict[str, str]) -> Order:
    return Order("c1", "external", "paper", "BTC/USDT", Side.BUY, OrderType.MARKET,
                 Decimal("0.001"), signal=signal)  # fmt: skip


@pytest.mark.postgres
def test_a_signal_holding_a_nul_is_journaled_with_a_stand_in_on_postgres(pg_url) -> None:
    db = Database(pg_url)
    db.migrate()
    storage = Storage(db)
    with storage.transaction():
        storage.upsert_order(_order({"note": "a\x00b", "\\u0000": "text that reads so"}))
    [order] = storage.load_orders()
    assert order.signal == {"note": "a\ufffdb", "\\u0000": "text that reads so"}


def test_sqlite_keeps_a_nul_as_given(sqlite_url) -> None:
    db = Database(sqlite_url)
    db.migrate()
    storage = Storage(db)
    with storage.transaction():
        storage.upsert_order(_order({"note": "a\x00b"}))
    assert storage.load_orders()[0].signal == {"note": "a\x00b"}


def _journal_and_read(url: str, signal: dict[str, str]) -> dict[str, str]:
    db = Database(url)
    db.migrate()
    storage = Storage(db)
    with storage.transaction():
        storage.upsert_order(_order(signal))
    [order] = storage.load_orders()
    assert order.signal is not None
    return order.signal


def test_a_lone_surrogate_in_a_json_value_is_stored_as_a_stand_in_on_sqlite(sqlite_url) -> None:
    # text from outside (a venue's error decoded from "\ud800", a signal) may hold half of a
    # UTF-16 pair: stored as given, every read of it then failed to be sent as UTF-8 (a 500)
    signal = _journal_and_read(sqlite_url, {"note": "a\ud800b", "\udc00": "x", "ok": "\U0001f600"})
    assert signal == {"note": "a\ufffdb", "\ufffd": "x", "ok": "\U0001f600"}


@pytest.mark.postgres
def test_a_lone_surrogate_in_a_json_value_is_stored_as_a_stand_in_on_postgres(pg_url) -> None:
    # JSONB refused the escape and the whole commit with it
    signal = _journal_and_read(pg_url, {"note": "a\ud800b", "\udc00": "x\x00", "ok": "\U0001f600"})
    assert signal == {"note": "a\ufffdb", "\ufffd": "x\ufffd", "ok": "\U0001f600"}
