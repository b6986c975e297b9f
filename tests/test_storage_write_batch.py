"""A backtest's batched unit of work leaves the database exactly as writing row by row does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tradeguard.model import (
    Balance,
    ClosedTrade,
    Event,
    Fill,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from tradeguard.storage import Database, Storage
from tradeguard.storage.tables import balances, fills, orders, positions

pytest_plugins = ["storage_fixtures"]

D = Decimal
TABLES = ("orders", "order_transitions", "fills", "positions", "balances", "kv_state", "events")


def _store(url: str) -> Storage:
    db = Database(url)
    db.migrate()
    return Storage(db)


def _order(cid: str, symbol: str = "BTC/USDT") -> Order:
    return Order(
        cid, "ma", "paper", symbol, side=Side.BUY, type=OrderType.MARKET, amount=D("0.5"),
        created_ts=1_000, updated_ts=1_000, signal={"reason": "cross", "fast": D("1.5")},
    )  # fmt: skip


def _fill(cid: str, trade_id: str, side: Side = Side.BUY, ts: int = 2_000) -> Fill:
    return Fill(
        "paper", "BTC/USDT", cid, "v-" + cid, trade_id, side, D("100.5"), D("0.5"),
        D("0.05"), "USDT", LiquiditySide.TAKER, ts,
    )  # fmt: skip


def _trade(pnl: str, ts: int) -> ClosedTrade:
    return ClosedTrade(
        "paper", "BTC/USDT", "ma", Side.BUY, D("100"), D("102"), D("0.5"), D(pnl), D("2"),
        ts - 500, ts,
    )  # fmt: skip


def _journal(store: Storage) -> list[bool]:
    """The order path's writes over a few orders: every statement a backtest batches."""
    seen = []
    pos = Position("paper", "BTC/USDT", "ma", quantity=D("0.5"), avg_entry=D("100"))
    for n in range(3):
        order = _order(f"c-{n}")
        order.transition(OrderStatus.SUBMITTED, 1_000)
        store.upsert_order(order)
        store.record_transition(order.client_order_id, "new", "submitted", 1_000)
        order.venue_order_id = f"v-c-{n}"
        order.transition(OrderStatus.ACCEPTED, 1_001)
        store.upsert_order(order)
        store.record_transition(order.client_order_id, "submitted", "accepted", 1_001)
        fill = _fill(order.client_order_id, f"t-{n}", ts=2_000 + n)
        seen.append(store.insert_fill(fill, "ma"))
        seen.append(store.insert_fill(fill, "ma"))  # a replayed fill: stored once
        order.apply_fill(fill)
        store.upsert_order(order)
        store.record_transition(order.client_order_id, "accepted", "filled", 2_000 + n)
        # open, flat refresh, close, and the key opened again
        store.save_position(pos, D("101"))
        usd = {"USDT": D(900 - n), "BTC": D("50")}
        held = [Balance("paper", "USDT", D(900 - n)), Balance("paper", "BTC", D("0.5"))]
        store.upsert_balances("paper", held, usd, 2_000 + n)
        store.upsert_balances("paper", [Balance("paper", "BTC", D("0.25"), D("0.25"))], None, 3)
        store.kv_set("replay.state", {"cursor": n, "equity": D("1000.5")}, 2_000 + n)
        store.append_events([Event("fill", 2_000 + n, {"trade_id": f"t-{n}"}, "paper")])
        store.close_position(_trade(str(n), 3_000 + n), pos)
    store.close_position(_trade("9", 4_000), pos)  # no open row: the trip is recorded anyway
    flat = Position("paper", "ETH/USDT", "ma", quantity=D("0"), realized_pnl=D("1"))
    store.save_position(flat, None)  # flat without an open row: writes nothing
    return seen


def _tables(store: Storage) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with store.db.engine.connect() as conn:
        for name in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {name} ORDER BY 1")).all()
            out[name] = [tuple(r) for r in rows]
    # PostgreSQL spends a fill id on a duplicate the database skips; a batch skips it before:
    # the ids may have gaps in one and not the other, in the same order.
    out["fills"] = [r[1:] for r in out["fills"]]
    return out


def _in_unit(store: Storage, batch: bool, body: Callable[[Storage], Any]) -> Any:
    with store.holding_connection(), store.unit_of_work(batch=batch):
        return body(store)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases on one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    base: str = request.getfixturevalue("storage_pg_database")
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with psycopg.connect(base, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    urls = [
        make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        for schema in schemas
    ]
    try:
        yield urls[0].render_as_string(False), urls[1].render_as_string(False)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_batched_unit_commits_the_rows_row_by_row_writes_do(two_db_urls: tuple[str, str]) -> None:
    one_by_one, batched = (_store(url) for url in two_db_urls)
    seen_direct = _in_unit(one_by_one, False, _journal)
    seen_batched = _in_unit(batched, True, _journal)
    assert seen_batched == seen_direct == [True, False] * 3
    got = _tables(batched)
    assert got == _tables(one_by_one)
    assert [r["status"] for r in batched.load_position_rows()] == ["closed"] * 4
    assert len(got["orders"]) == 3 and len(got["fills"]) == 3 and len(got["balances"]) == 2


def test_reads_inside_a_batched_unit_see_the_writes_before_them(storage_db_url: str) -> None:
    store = _store(storage_db_url)

    def body(s: Storage) -> None:
        s.upsert_order(_order("c-1"))
        s.record_transition("c-1", "new", "submitted", 1_000)
        assert s.insert_fill(_fill("c-1", "t-1"), "ma")
        loaded = s.get_order("c-1")
        assert loaded is not None and loaded.trade_ids == {"t-1"}
        assert [f.trade_id for f in s.load_fills()] == ["t-1"]
        # written by a plain SQLAlchemy statement after held rows: order kept
        s.save_run_state(s.load_run_state("ma") or _run_state())

    _in_unit(store, True, body)
    with store.db.engine.connect() as conn:
        assert conn.execute(select(orders.c.client_order_id)).scalars().all() == ["c-1"]


def _run_state() -> Any:
    from tradeguard.storage.repository import RunState

    return RunState("ma", "running")


def test_fill_stored_before_the_unit_is_not_written_again(storage_db_url: str) -> None:
    store = _store(storage_db_url)
    store.upsert_order(_order("c-1"))
    assert store.insert_fill(_fill("c-1", "t-1"), "ma")
    assert not _in_unit(store, True, lambda s: s.insert_fill(_fill("c-1", "t-1"), "ma"))
    with store.db.engine.connect() as conn:
        assert len(conn.execute(select(fills.c.id)).all()) == 1


def test_an_error_in_a_batched_unit_writes_nothing(storage_db_url: str) -> None:
    store = _store(storage_db_url)

    def body(s: Storage) -> None:
        s.upsert_order(_order("c-1"))
        s.upsert_balances("paper", [Balance("paper", "USDT", D(1))], {"USDT": D(1)}, 1)
        s.commit_unit()  # these two are committed
        s.upsert_order(_order("c-2"))
        s.save_position(Position("paper", "BTC/USDT", "ma", quantity=D(1), avg_entry=D(1)))
        # an orphan transition: its foreign key fails when the commit runs the batch
        s.record_transition("never-journaled", "new", "submitted", 10)
        s.commit_unit()

    with pytest.raises(IntegrityError):
        _in_unit(store, True, body)
    with store.db.engine.connect() as conn:
        assert conn.execute(select(orders.c.client_order_id)).scalars().all() == ["c-1"]
        assert conn.execute(select(positions.c.id)).all() == []
        assert conn.execute(select(balances.c.asset)).scalars().all() == ["USDT"]
