from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, text
from sqlalchemy.exc import DBAPIError

from conftest import eventually
from tradeguard.model import Event
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.storage import Database, Storage, StorageError, mask_url
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import normalize_url
from tradeguard.storage.tables import metadata

pytest_plugins = ["storage_fixtures"]


def _schema_diff(db: Database, target: MetaData) -> list[object]:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, target))


HEAD = "0010"  # the newest migration


def test_migrated_schema_equals_table_metadata(storage_db_url: str) -> None:
    db = Database(storage_db_url)
    db.migrate()
    assert db.current_revision() == HEAD
    assert _schema_diff(db, metadata) == []
    db.dispose()


def test_schema_comparison_notices_a_drift(storage_db_url: str) -> None:
    # Guards the test above against comparing nothing at all.
    db = Database(storage_db_url)
    db.migrate()
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["orders"].append_column(Column("extra", String, nullable=True))
    diff = _schema_diff(db, drifted)
    assert [d[0] for d in diff if isinstance(d, tuple)] == ["add_column"]
    db.dispose()


def test_migrate_twice_is_a_no_op(storage_db_url: str) -> None:
    db = Database(storage_db_url)
    db.migrate()
    Storage(db).kv_set("kill_switch", {"on": True}, ts=1)
    db.migrate()
    assert db.current_revision() == HEAD
    assert Storage(db).kv_get("kill_switch") == {"on": True}
    db.dispose()


def test_events_table_refuses_update_and_delete(store: Storage) -> None:
    event_id = store.append_event(Event(kind="order.submitted", ts=1, data={"a": 1}))
    engine = store.db.engine
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE events SET kind = 'forged' WHERE id = :id"), {"id": event_id})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE id = :id"), {"id": event_id})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
    events = store.load_events()
    assert [(e.kind, e.data) for e in events] == [("order.submitted", {"a": 1})]


@pytest.mark.postgres
def test_events_table_refuses_truncate_on_postgres(storage_pg_url: str) -> None:
    db = Database(storage_pg_url)
    db.migrate()
    Storage(db).append_event(Event(kind="kill", ts=5))
    with pytest.raises(DBAPIError, match="append-only: TRUNCATE"), db.engine.begin() as conn:
        conn.execute(text("TRUNCATE events"))
    assert len(Storage(db).load_events()) == 1
    db.dispose()


@pytest.mark.postgres
def test_postgres_gets_the_partial_open_positions_index_both_ways(storage_pg_url: str) -> None:
    db = Database(storage_pg_url)  # gives the tables their PostgreSQL options
    for create in (db.migrate, lambda: metadata.create_all(db.engine)):
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS positions CASCADE"))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        create()
        with db.engine.connect() as conn:
            sql = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_positions_open'")
            ).scalar_one()
        assert "UNIQUE" in sql and "WHERE" in sql and "'open'" in sql
    db.dispose()


def test_create_at_head_refuses_a_database_holding_a_table(storage_sqlite_url: str) -> None:
    # It creates every table without looking for any first: on a database that is not empty
    # it fails whole (nothing created, nothing stamped) instead of filling in the rest.
    db = Database(storage_sqlite_url)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE kv_state (key VARCHAR PRIMARY KEY)"))
    with pytest.raises(StorageError, match="creating the schema failed"):
        db.create_at_head()
    with db.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).all()
    assert [n for (n,) in names] == ["kv_state"]
    db.dispose()


def test_metadata_create_all_also_installs_append_only_triggers(storage_sqlite_url: str) -> None:
    db = Database(storage_sqlite_url)
    metadata.create_all(db.engine)
    Storage(db).append_event(Event(kind="kill", ts=5))
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
    db.dispose()


def test_sqlite_connections_use_wal_normal_sync_and_foreign_keys(storage_sqlite_url: str) -> None:
    db = Database(storage_sqlite_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    db.dispose()


def test_a_disposable_database_keeps_rollback_but_no_wal_sync_or_checkpointer(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'run.db'}", disposable=True)
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "memory"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 0  # OFF
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert db._checkpointer is None
    storage = Storage(db)
    with pytest.raises(RuntimeError), storage.transaction():
        storage.append_event(Event(kind="kill", ts=5))
        raise RuntimeError("rolled back")
    storage.append_event(Event(kind="resume", ts=6))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM events")).scalars().all() == ["resume"]
    db.dispose()
    assert not (tmp_path / "run.db-wal").exists()


def test_a_file_database_checkpoints_its_wal_from_a_thread_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    storage = Storage(db)
    checkpointer = [t for t in threading.enumerate() if t.name == f"sqlite-checkpoint:{path.name}"]
    assert len(checkpointer) == 1
    size_before = path.stat().st_size
    for i in range(200):  # ~100 kB: far below SQLite's own commit-time threshold
        storage.kv_set(f"k{i}", {"v": "x" * 500})

    # only the background checkpoint copies committed pages from the WAL into the file
    eventually(lambda: path.stat().st_size > size_before + 50_000)
    assert storage.kv_get("k199") == {"v": "x" * 500}
    db.dispose()
    assert not checkpointer[0].is_alive()


def test_postgresql_urls_use_psycopg3_driver() -> None:
    url = normalize_url("postgresql://bot:pw@db.example:5432/trading")
    assert url.drivername == "postgresql+psycopg"
    assert normalize_url("postgres://bot@h/x").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://h/x").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_unreachable_database_error_names_url_with_password_masked() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    url = "postgresql://trader:s3cr3t-pw@127.0.0.1:1/trading"
    with pytest.raises(StorageError) as info:
        Database(url)
    message = str(info.value)
    assert "s3cr3t-pw" not in message
    assert "postgresql+psycopg://trader:***@127.0.0.1:1/trading" in message
    assert "cannot connect" in message
    # The driver error is not chained into tracebacks (it may echo connection details).
    assert info.value.__suppress_context__


def test_invalid_url_error_masks_password() -> None:
    with pytest.raises(StorageError) as info:
        Database("not a url://user:hunter2@host/db")
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("sqlite:///var/tg.db") == "sqlite:///var/tg.db"


def test_upgrade_from_0001_keeps_fills_and_books_both_sides_of_a_self_trade(
    storage_db_url: str,
) -> None:
    db = Database(storage_db_url)
    db.migrate("0001")
    row = {
        "venue": "binance", "symbol": "BTC/USDT", "trade_id": "x1", "client_order_id": "c-buy",
        "venue_order_id": "v-buy", "strategy_id": "a", "side": "buy", "price": "100",
        "amount": "1", "fee": "0.1", "fee_asset": "USDT", "liquidity": "taker", "ts": 1_000,
    }  # fmt: skip
    params = ", ".join(":" + c for c in row)
    insert = text(f"INSERT INTO fills ({', '.join(row)}) VALUES ({params})")
    with db.engine.begin() as conn:
        conn.execute(insert, row)
        # At 0001 the seller's side of the same trade is refused as a duplicate.
        with pytest.raises(DBAPIError), conn.begin_nested():
            conn.execute(insert, {**row, "side": "sell", "client_order_id": "c-sell"})
    db.migrate()
    store = Storage(db)
    assert db.current_revision() == HEAD
    assert _schema_diff(db, metadata) == []
    assert [f.side for f in store.load_fills()] == [Side.BUY]
    assert store.insert_fill(_self_fill(Side.SELL), "b") is True
    assert store.insert_fill(_self_fill(Side.SELL), "b") is False
    assert store.fill_keys("binance", "BTC/USDT") == {("x1", "buy"), ("x1", "sell")}
    db.dispose()


def _self_fill(side: Side) -> Fill:
    return Fill(
        venue="binance",
        symbol="BTC/USDT",
        client_order_id=f"c-{side.value}",
        venue_order_id=f"v-{side.value}",
        trade_id="x1",
        side=side,
        price=Decimal("100"),
        amount=Decimal("1"),
        fee=Decimal("0.1"),
        fee_asset="USDT",
        liquidity=LiquiditySide.TAKER if side is Side.BUY else LiquiditySide.MAKER,
        ts=1_000,
    )


def test_upgrade_from_0002_keeps_arb_records_and_indexes_them_by_time(
    storage_db_url: str,
) -> None:
    db = Database(storage_db_url)
    db.migrate("0002")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO arb_executions (strategy_id, start_asset, outcome, ts) "
                "VALUES ('tri', 'USDT', 'completed', 1000)"
            )
        )
    db.migrate()
    assert db.current_revision() == HEAD
    assert _schema_diff(db, metadata) == []
    rows = load_arb_executions(Storage(db), newest_first=True)
    assert [(r["strategy_id"], r["outcome"], r["ts"]) for r in rows] == [("tri", "completed", 1000)]
    db.dispose()


def test_upgrade_from_0008_names_the_record_of_each_order_recorded_before(
    storage_db_url: str,
) -> None:
    from tradeguard.storage.arb_repository import find_arb_execution
    from tradeguard.storage.tables import arb_executions

    db = Database(storage_db_url)
    db.migrate("0008")
    legs = {"legs": [{"index": 0, "client_order_id": "leg-0"}],
            "unwinds": [{"index": 0, "client_order_id": "back-0"}]}  # fmt: skip
    row = {"strategy_id": "tri", "start_asset": "USDT"}
    with db.engine.begin() as conn:
        conn.execute(arb_executions.insert().values(**row, outcome="held", ts=1000, legs=legs))
        conn.execute(arb_executions.insert().values(**row, outcome="rejected", ts=2000))
    db.migrate()
    assert db.current_revision() == HEAD
    assert _schema_diff(db, metadata) == []
    store = Storage(db)
    for cid in ("leg-0", "back-0"):
        found = find_arb_execution(store, "tri", cid)
        assert found is not None and found["outcome"] == "held", cid
    db.dispose()


def test_upgrade_from_0008_names_the_first_record_of_an_order_two_name_as_a_write_would(
    storage_db_url: str,
) -> None:
    # Writing records names an order's first record and keeps it (`_name_orders`); the
    # backfill of records written before 0009 did the same (before: the last one won).
    from tradeguard.storage.arb_repository import find_arb_execution, insert_arb_execution
    from tradeguard.storage.tables import arb_executions

    legs = {"legs": [{"index": 0, "client_order_id": "leg-0", "status": "rejected"}]}
    row = {"strategy_id": "tri", "start_asset": "USDT", "legs": legs}
    db = Database(storage_db_url)
    db.migrate("0008")
    with db.engine.begin() as conn:
        conn.execute(arb_executions.insert().values(**row, outcome="held", ts=1000))
        conn.execute(arb_executions.insert().values(**row, outcome="rejected", ts=2000))
    db.migrate()
    store = Storage(db)
    found = find_arb_execution(store, "tri", "leg-0")
    assert found is not None and found["outcome"] == "held", found  # before: "rejected"
    insert_arb_execution(store, {**row, "outcome": "failed", "ts": 3000})  # a write keeps it
    found = find_arb_execution(store, "tri", "leg-0")
    assert found is not None and found["outcome"] == "held", found
    db.dispose()


def test_the_first_start_after_upgrading_to_0009_reads_the_fills_of_the_newest_records_only(
    storage_db_url: str,
) -> None:
    # A start before the upgrade looked at the orders of the 256 newest records: the first
    # start after it reads their fills again (a kill before a fill was booked is put right)
    # and those journaled since, not the whole history (before: one record lookup for each
    # order ever recorded, 900 here).
    from tradeguard.execution.gateway import LATE_CHECKED_KEY
    from tradeguard.storage.arb_repository import fills_after
    from tradeguard.storage.tables import arb_executions

    def fill(cid: str, trade_id: str) -> Fill:
        return Fill(venue="sbx", symbol="ETH/USDT", client_order_id=cid,
                    venue_order_id=f"v-{cid}", trade_id=trade_id, side=Side.BUY,
                    price=Decimal("2000"), amount=Decimal("0.1"), fee=Decimal(0),
                    fee_asset="ETH", liquidity=LiquiditySide.TAKER, ts=1000)  # fmt: skip

    db = Database(storage_db_url)
    db.migrate("0008")
    store = Storage(db)
    records = 300
    with db.engine.begin() as conn:
        for n in range(records):
            legs = {"legs": [{"index": i, "client_order_id": f"c{n}-{i}", "status": "expired"}
                             for i in range(3)], "unwinds": []}  # fmt: skip
            row = {"strategy_id": "tri", "start_asset": "USDT", "outcome": "held"}
            conn.execute(arb_executions.insert().values(**row, ts=n, legs=legs))
    with store.transaction():
        for n in range(records):
            for i in range(3):
                store.insert_fill(fill(f"c{n}-{i}", f"t{n}-{i}"), "tri")
    db.migrate()
    mark = int(store.kv_get(LATE_CHECKED_KEY.format("tri")) or 0)
    window = sorted(f"c{n}-{i}" for n in range(records - 256, records) for i in range(3))
    assert fills_after(store, "tri", mark)[1] == window  # before: all 900 orders
    store.insert_fill(fill("c3-1", "late"), "tri")  # the first start's reconciliation
    assert fills_after(store, "tri", mark)[1] == sorted([*window, "c3-1"])
    db.dispose()


def test_upgrade_from_0007_keeps_adjustments_and_counts_only_those_above_the_floor(
    storage_db_url: str,
) -> None:
    db = Database(storage_db_url)
    db.migrate("0007")
    insert = text(
        "INSERT INTO balance_adjustments "
        "(venue, asset, ledger_total, venue_total, difference, reason, ts) "
        "VALUES ('binance', 'USDT', '0', :d, :d, :r, 1000)"
    )
    with db.engine.begin() as conn:
        for reason in ("deposit recorded by ops: counted", "balance sync: booked, not counted"):
            conn.execute(insert, {"d": "250", "r": reason})
    db.migrate()
    store = Storage(db)
    assert db.current_revision() == HEAD
    assert _schema_diff(db, metadata) == []
    rows = store.load_balance_adjustments()
    assert sorted((r["id"], r["counted_ts"], r["declares"]) for r in rows) == [
        (1, None, None),
        (2, None, None),
    ]
    # the risk state of 0007 counted id 1 (its floor): only id 2 is left to count
    assert [r["id"] for r in store.load_uncounted_adjustments(after_id=1)] == [2]
    new = store.record_balance_adjustment(
        "binance", "USDT", Decimal(0), Decimal(1), "x", 2_000, declares=2
    )
    assert new == 3  # ids go on after the rows the upgrade kept
    store.mark_adjustments_counted([2, new], 3_000)
    assert store.load_uncounted_adjustments(after_id=1) == []
    db.dispose()
