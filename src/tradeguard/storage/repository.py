"""Repositories over the tables: small Core statements, one commit per write unless batched.

Usage:

db = Database("sqlite:///var/tradeguard.db")
db.migrate()
storage = Storage(db)
with storage.transaction():          # one commit for the whole block
    storage.upsert_order(order)
    storage.record_transition(order.client_order_id, "new", "submitted", ts)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Row,
    Table,
    TextClause,
    bindparam,
    func,
    select,
    text,
)

from tradeguard.model import (
    ZERO,
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
    TimeInForce,
)
from tradeguard.model.fill import fee_in_quote
from tradeguard.storage.db import Database
from tradeguard.storage.driver import DriverStatement
from tradeguard.storage.tables import (
    balance_adjustments,
    events,
    fills,
    kv_state,
    order_transitions,
    orders,
    positions,
    strategy_runs,
)
from tradeguard.storage.tables import (
    balances as balances_table,
)

OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.is_open)
_OPEN = "open"
_POSITION_KEY = ("venue", "symbol", "strategy_id")
_CLOSED = "closed"
# The open-row update of a flat position: everything but the key and the close fields; without a
# mark (None) the stored mark and unrealized P&L are kept.
_FLAT_POSITION_FIELDS = (
    "quantity", "entry_price", "entry_ts", "stop_loss", "take_profit", "realized_pnl", "fees",
    "current_price", "unrealized_pnl", "trip_pnl", "trip_max_qty", "trip_entry",
    "last_exit_price", "updated_ts",
)  # fmt: skip
_KEEP_IF_NULL = ("current_price", "unrealized_pnl")
_CLOSE_POSITION_FIELDS = (
    "status", "side", "quantity", "entry_price", "entry_ts", "exit_price", "exit_ts", "pnl",
    "pnl_pct", "realized_pnl", "fees", "current_price", "unrealized_pnl", "last_exit_price",
    "updated_ts",
)  # fmt: skip
_ORDER_IDENTITY = ("venue", "symbol", "created_ts")
# Keep IN (...) lists well under SQLite's bound-parameter limit.
_IN_CHUNK = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("insert returned no primary key")
    return int(key[0])


@dataclass(slots=True)
class RunState:
    """What a strategy has done so far, persisted so a restart resumes where it stopped."""

    strategy_id: str
    status: str = "stopped"
    total_trades: int = 0
    winning_trades: int = 0
    losing_trades: int = 0
    total_pnl: Decimal = ZERO
    daily_pnl: Decimal = ZERO
    daily_pnl_day: str = ""  # ISO date (UTC) that daily_pnl belongs to
    last_signal_ts: int = 0
    last_trade_ts: int = 0
    cursor_ts: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    updated_ts: int = 0


class _Tx(threading.local):
    # Per thread, so one thread's open transaction never swallows another thread's writes.
    conn: Connection | None = None
    depth: int = 0
    held: Connection | None = None  # kept checked out by holding_connection()
    unit: Any = None  # the open transaction of a unit of work (see unit_of_work())
    dirty: bool = False  # something was written in the open unit of work


class Storage:
    """Read and write the domain model; every write commits unless inside `transaction()`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._engine = db.engine
        self._tx = _Tx()
        self._commit_hooks: list[Callable[[], None]] = []
        # The order path's writes: compiled once, run on the DB-API cursor (see driver.py).
        driver = self._driver
        # A client order id names one order on one market from its creation: those indexed
        # columns are left alone on update, so a status change rewrites no page of their indexes.
        self._upsert_order_stmt = driver(
            self._upsert(orders, ["client_order_id"], keep=_ORDER_IDENTITY)
        )
        # RETURNING tells a skipped duplicate apart on both backends (rowcount does not on PG).
        self._insert_fill_stmt = driver(
            self._upsert(
                fills, ["venue", "symbol", "trade_id", "side"], do_nothing=True, returning="id"
            )
        )
        self._insert_transition_stmt = driver(self._insert(order_transitions))
        self._insert_event_stmt = events.insert()
        self._insert_events_stmt = driver(self._insert(events))
        self._upsert_kv_stmt = driver(self._upsert(kv_state, ["key"]))
        self._upsert_run_stmt = self._upsert(strategy_runs, ["strategy_id"])
        self._upsert_balance_stmt = driver(self._upsert(balances_table, ["venue", "asset"]))
        self._upsert_balance_keep_usd_stmt = driver(
            self._upsert(balances_table, ["venue", "asset"], keep=("usd_value",))
        )
        self._save_position_stmt = driver(
            self._upsert(
                positions,
                ["venue", "symbol", "strategy_id"],
                # Must read exactly like the partial index predicate in tables.py.
                key_where="status = 'open'",
                keep=("status", "exit_price", "exit_ts", "pnl", "pnl_pct"),
                # Without a mark, keep the last one rather than blanking it.
                coalesce=_KEEP_IF_NULL,
            )
        )
        self._flat_position_stmt = driver(
            self._open_position_update(_FLAT_POSITION_FIELDS, coalesce=_KEEP_IF_NULL)
        )
        self._close_position_stmt = driver(self._open_position_update(_CLOSE_POSITION_FIELDS))

    # transactions ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Batch writes into one commit at the outermost exit; an escaping error rolls back all."""
        tx = self._tx
        if tx.conn is not None:
            tx.depth += 1
            tx.dirty = True
            try:
                yield
            finally:
                tx.depth -= 1
            return
        held = tx.held
        if held is not None:
            with held.begin():
                yield from self._outermost(tx, held)
            return
        with self._engine.begin() as conn:
            yield from self._outermost(tx, conn)

    def _outermost(self, tx: _Tx, conn: Connection) -> Iterator[None]:
        tx.conn, tx.depth = conn, 1
        try:
            yield
            for hook in self._commit_hooks:
                hook()
        finally:
            tx.conn, tx.depth = None, 0

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        # One statement outside transaction(): committed at once, without the commit hooks.
        held = self._tx.held
        if held is None:
            with self._engine.begin() as conn:
                yield conn
        else:
            with held.begin():
                yield held

    @contextmanager
    def holding_connection(self) -> Iterator[None]:
        """Keep one pooled connection for this thread's reads and writes until the block ends.

        For a loop that commits many times a second (a replay): taking a connection from the pool
        and giving it back costs more than a small commit's statements. Other threads keep using
        the pool.
        """
        tx = self._tx
        if tx.held is not None or tx.conn is not None:
            yield
            return
        conn = self._engine.connect()
        tx.held = conn
        try:
            yield
        finally:
            tx.held = None
            conn.close()

    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """Join every write of this thread into one open transaction until `commit_unit()`.

        Nested `transaction()` blocks join it instead of committing; `commit_unit()` runs the
        commit hooks and commits everything written since the last one, or nothing if nothing
        was. An error escaping the block rolls the uncommitted writes back. Needs
        `holding_connection()` around it.
        """
        tx = self._tx
        held = tx.held
        if held is None or tx.conn is not None:
            raise RuntimeError("unit_of_work() needs holding_connection() and no open transaction")
        tx.unit = held.begin()
        tx.conn, tx.depth, tx.dirty = held, 1, False
        try:
            yield
        except BaseException:
            tx.unit.rollback()
            raise
        else:
            self.commit_unit()
            tx.unit.commit()
        finally:
            tx.conn, tx.depth, tx.unit, tx.dirty = None, 0, None, False

    @property
    def unit_dirty(self) -> bool:
        """Tell whether the open unit of work holds writes not yet committed."""
        return self._tx.dirty

    def unit_status(self) -> _Tx:
        """This thread's transaction state; its `dirty` is `unit_dirty`, read without a call
        (for a loop that asks once per market event)."""
        return self._tx

    def mark_dirty(self) -> None:
        """Make the open unit of work commit at the next `commit_unit()`."""
        self._tx.dirty = True

    def commit_unit(self) -> bool:
        """Run the commit hooks and commit the open unit of work if it wrote anything."""
        tx = self._tx
        if tx.unit is None or not tx.dirty:
            return False
        for hook in self._commit_hooks:
            hook()
        tx.unit.commit()
        tx.unit = tx.conn.begin() if tx.conn is not None else None
        tx.dirty = False
        return True

    def add_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` inside every outermost transaction, just before it commits.

        Used to piggyback buffered writes (the audit log) on journal commits.
        """
        self._commit_hooks.append(hook)

    @property
    def in_transaction(self) -> bool:
        return self._tx.conn is not None

    def _write(self, stmt: Executable, params: Any = None) -> CursorResult[Any]:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            return conn.execute(stmt, params)
        with self._begin() as conn:
            return conn.execute(stmt, params)

    def _run(self, stmt: DriverStatement, row: Mapping[str, Any]) -> Any:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            return stmt.execute(conn, row)
        with self._begin() as conn:
            return stmt.execute(conn, row)

    def _run_many(self, stmt: DriverStatement, rows: Sequence[Mapping[str, Any]]) -> None:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            stmt.execute_many(conn, rows)
            return
        with self._begin() as conn:
            stmt.execute_many(conn, rows)

    def _read(self, stmt: Executable) -> Sequence[Row[Any]]:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            return conn.execute(stmt).all()
        held = tx.held
        if held is not None:
            try:
                return held.execute(stmt).all()
            finally:
                held.rollback()  # end the read's transaction: the next one sees newer commits
        with self._engine.connect() as conn:
            return conn.execute(stmt).all()

    # statement builders ------------------------------------------------------------------------
    def _driver(self, clause: TextClause) -> DriverStatement:
        return DriverStatement(clause, self._engine.dialect, self._engine.hide_parameters)

    def _insert(self, table: Table) -> TextClause:
        q = self._engine.dialect.identifier_preparer.quote
        cols = [c for c in table.c if not (c.name == "id" and c.autoincrement is True)]
        sql = (
            f"INSERT INTO {q(table.name)} ({', '.join(q(c.name) for c in cols)}) "
            f"VALUES ({', '.join(':' + c.name for c in cols)})"
        )
        return text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in cols))

    def _open_position_update(
        self, names: Sequence[str], *, coalesce: Iterable[str] = ()
    ) -> TextClause:
        """UPDATE the open row of one (venue, symbol, strategy_id); one statement, no SELECT."""
        q = self._engine.dialect.identifier_preparer.quote
        merge = set(coalesce)
        sets = [
            f"{q(n)} = COALESCE(:{n}, {q(n)})" if n in merge else f"{q(n)} = :{n}" for n in names
        ]
        sql = (
            f"UPDATE {q(positions.name)} SET {', '.join(sets)} "
            f"WHERE {q('venue')} = :key_venue AND {q('symbol')} = :key_symbol "
            f"AND {q('strategy_id')} = :key_strategy_id AND {q('status')} = '{_OPEN}'"
        )
        binds = [bindparam(n, type_=positions.c[n].type) for n in names]
        binds += [bindparam(f"key_{k}", type_=positions.c[k].type) for k in _POSITION_KEY]
        return text(sql).bindparams(*binds)

    # Upserts are written as text: SQLAlchemy 2.0 does not cache the compiled form of dialect
    # ON CONFLICT constructs, and recompiling on every call would cost more than the write.
    # The syntax (ON CONFLICT ... excluded.col) is the same on SQLite and PostgreSQL.
    def _upsert(
        self,
        table: Table,
        keys: Sequence[str],
        *,
        keep: Iterable[str] = (),
        coalesce: Iterable[str] = (),
        key_where: str = "",
        do_nothing: bool = False,
        returning: str = "",
    ) -> TextClause:
        q = self._engine.dialect.identifier_preparer.quote
        # Surrogate ids are left to the database.
        cols = [c for c in table.c if not (c.name == "id" and c.autoincrement is True)]
        names = [c.name for c in cols]
        target = f"({', '.join(q(k) for k in keys)})" + (f" WHERE {key_where}" if key_where else "")
        sql = (
            f"INSERT INTO {q(table.name)} ({', '.join(q(n) for n in names)}) "
            f"VALUES ({', '.join(':' + n for n in names)}) ON CONFLICT {target} "
        )
        if do_nothing:
            sql += "DO NOTHING"
        else:
            skip = set(keys) | set(keep)
            merge = set(coalesce)
            sets = [
                f"{q(n)} = COALESCE(excluded.{q(n)}, {q(table.name)}.{q(n)})"
                if n in merge
                else f"{q(n)} = excluded.{q(n)}"
                for n in names
                if n not in skip
            ]
            sql += "DO UPDATE SET " + ", ".join(sets)
        if returning:
            sql += f" RETURNING {q(returning)}"
        return text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in cols))

    # orders ------------------------------------------------------------------------------------
    def upsert_order(self, order: Order) -> None:
        """Insert or replace the journal row of `order` (keyed by client order id)."""
        self._run(self._upsert_order_stmt, _order_row(order))

    def get_order(self, client_order_id: str) -> Order | None:
        """Return the journaled order, with its trade ids rebuilt from fills, or None."""
        rows = self._read(select(orders).where(orders.c.client_order_id == client_order_id))
        if not rows:
            return None
        return self._with_trade_ids([_order_from_row(rows[0])])[0]

    def load_orders(
        self,
        *,
        open_only: bool = False,
        venue: str | None = None,
        symbol: str | None = None,
        strategy_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Order]:
        """Return journaled orders, newest first, with trade ids rebuilt from fills."""
        stmt = select(orders)
        if open_only:
            stmt = stmt.where(orders.c.status.in_(OPEN_STATUSES))
        if venue is not None:
            stmt = stmt.where(orders.c.venue == venue)
        if symbol is not None:
            stmt = stmt.where(orders.c.symbol == symbol)
        if strategy_id is not None:
            stmt = stmt.where(orders.c.strategy_id == strategy_id)
        stmt = stmt.order_by(orders.c.created_ts.desc(), orders.c.client_order_id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return self._with_trade_ids([_order_from_row(r) for r in self._read(stmt)])

    def count_orders(self) -> int:
        """Return how many orders the journal holds."""
        return int(self._read(select(func.count()).select_from(orders))[0][0])

    def _with_trade_ids(self, loaded: list[Order]) -> list[Order]:
        by_cid = {o.client_order_id: o for o in loaded}
        cids = list(by_cid)
        for start in range(0, len(cids), _IN_CHUNK):
            chunk = cids[start : start + _IN_CHUNK]
            stmt = select(fills.c.client_order_id, fills.c.trade_id).where(
                fills.c.client_order_id.in_(chunk)
            )
            for cid, trade_id in self._read(stmt):
                by_cid[cid].trade_ids.add(trade_id)
        return loaded

    def record_transition(
        self, client_order_id: str, from_status: str, to_status: str, ts: int, reason: str = ""
    ) -> None:
        """Journal one state change of an order (the order row must exist)."""
        self._run(
            self._insert_transition_stmt,
            {
                "client_order_id": client_order_id,
                "ts": ts,
                "from_status": str(from_status),
                "to_status": str(to_status),
                "reason": reason,
            },
        )

    def load_transitions(self, client_order_id: str) -> list[dict[str, Any]]:
        """Return the journaled state changes of one order, oldest first."""
        stmt = (
            select(order_transitions)
            .where(order_transitions.c.client_order_id == client_order_id)
            .order_by(order_transitions.c.id)
        )
        return [dict(r._mapping) for r in self._read(stmt)]

    # fills -------------------------------------------------------------------------------------
    def insert_fill(self, fill: Fill, strategy_id: str = "") -> bool:
        """Store a fill once; return False (writing nothing) if its trade id is already stored."""
        new_id = self._run(self._insert_fill_stmt, _fill_row(fill, strategy_id))
        return new_id is not None

    def load_fills(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        strategy_id: str | None = None,
        since_ts: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Fill]:
        """Return stored fills, oldest first (the order to replay them in) unless newest_first."""
        stmt = select(fills)
        if venue is not None:
            stmt = stmt.where(fills.c.venue == venue)
        if symbol is not None:
            stmt = stmt.where(fills.c.symbol == symbol)
        if client_order_id is not None:
            stmt = stmt.where(fills.c.client_order_id == client_order_id)
        if strategy_id is not None:
            stmt = stmt.where(fills.c.strategy_id == strategy_id)
        if since_ts is not None:
            stmt = stmt.where(fills.c.ts >= since_ts)
        if newest_first:
            stmt = stmt.order_by(fills.c.ts.desc(), fills.c.id.desc())
        else:
            stmt = stmt.order_by(fills.c.ts, fills.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return [_fill_from_row(r) for r in self._read(stmt)]

    def fill_fees(self) -> tuple[int, Decimal]:
        """Return how many fills are stored and the sum of their fees, each in its quote asset."""
        stmt = select(fills.c.symbol, fills.c.price, fills.c.fee, fills.c.fee_asset).order_by(
            fills.c.ts, fills.c.id
        )
        n, total = 0, ZERO
        for symbol, price, fee, fee_asset in self._read(stmt):
            n += 1
            total += fee_in_quote(symbol, price, fee, fee_asset)
        return n, total

    def fill_keys(self, venue: str, symbol: str) -> set[tuple[str, str]]:
        """Return every stored (trade id, side) of one venue and symbol (for replay dedup)."""
        stmt = select(fills.c.trade_id, fills.c.side).where(
            fills.c.venue == venue, fills.c.symbol == symbol
        )
        return {(r[0], r[1]) for r in self._read(stmt)}

    def fill_strategy_ids(self) -> dict[str, str]:
        """Map each stored client order id to the strategy its fills were booked to."""
        stmt = select(fills.c.client_order_id, fills.c.strategy_id).distinct()
        return {cid: sid for cid, sid in self._read(stmt)}

    # positions ---------------------------------------------------------------------------------
    def save_position(self, pos: Position, mark: Decimal | None = None) -> None:
        """Upsert the open row of `pos`'s (venue, symbol, strategy); a flat one only updates it."""
        row = _position_row(pos, mark)
        if pos.quantity == 0:
            # Flat: refresh an existing open row (closing is close_position's job), never create.
            row["key_venue"], row["key_symbol"] = pos.venue, pos.symbol
            row["key_strategy_id"] = pos.strategy_id
            self._run(self._flat_position_stmt, row)
            return
        self._run(self._save_position_stmt, row)

    def close_position(self, trade: ClosedTrade, pos: Position) -> None:
        """Mark the open row of the trade's key closed with exit price, time and P&L."""
        values: dict[str, Any] = {
            "status": _CLOSED,
            "side": _side_name(trade.side),
            "quantity": trade.amount,
            "entry_price": trade.entry_price,
            "entry_ts": trade.opened_ts,
            "exit_price": trade.exit_price,
            "exit_ts": trade.closed_ts,
            "pnl": trade.pnl,
            "pnl_pct": trade.pnl_pct,
            "realized_pnl": pos.realized_pnl,
            "fees": pos.fees,
            "current_price": trade.exit_price,
            "unrealized_pnl": ZERO,
            "last_exit_price": trade.exit_price,
            "updated_ts": trade.closed_ts,
        }
        key = {
            "key_venue": trade.venue,
            "key_symbol": trade.symbol,
            "key_strategy_id": trade.strategy_id,
        }
        if self._run(self._close_position_stmt, {**values, **key}):
            return
        # The position opened and closed without an open row being saved: record the trip anyway.
        row = {
            "venue": trade.venue,
            "symbol": trade.symbol,
            "strategy_id": trade.strategy_id,
            "stop_loss": None,
            "take_profit": None,
            "trip_pnl": trade.pnl,
            "trip_max_qty": trade.amount,
            "trip_entry": trade.entry_price,
            **values,
        }
        self._write(positions.insert(), row)

    def load_open_positions(self) -> list[Position]:
        """Return every open position as a model Position (signed quantity)."""
        stmt = select(positions).where(positions.c.status == _OPEN).order_by(positions.c.id)
        return [_position_from_row(r) for r in self._read(stmt)]

    def load_flat_positions(self) -> list[Position]:
        """Return, for each key with no open row, its position as its last close left it (flat,
        with the running realized P&L and fees)."""
        open_keys = {(p.venue, p.symbol, p.strategy_id) for p in self.load_open_positions()}
        stmt = select(positions).where(positions.c.status == _CLOSED).order_by(positions.c.id)
        last: dict[tuple[str, str, str], Row[Any]] = {}
        for r in self._read(stmt):
            key = (r.venue, r.symbol, r.strategy_id)
            if key not in open_keys:
                last[key] = r
        return [_flat_position_from_row(r) for r in last.values()]

    def closed_pnls(self, strategy_id: str | None = None) -> list[Decimal]:
        """Return the P&L of every closed position that has one, newest first."""
        stmt = select(positions.c.pnl).where(
            positions.c.status == _CLOSED, positions.c.pnl.is_not(None)
        )
        if strategy_id is not None:
            stmt = stmt.where(positions.c.strategy_id == strategy_id)
        return [r[0] for r in self._read(stmt.order_by(positions.c.id.desc()))]

    def load_position_rows(
        self,
        status: str | None = None,
        strategy_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return position rows as dicts (Decimals intact), newest first; status open|closed."""
        stmt = select(positions)
        if status is not None:
            stmt = stmt.where(positions.c.status == status)
        if strategy_id is not None:
            stmt = stmt.where(positions.c.strategy_id == strategy_id)
        stmt = stmt.order_by(positions.c.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return [dict(r._mapping) for r in self._read(stmt)]

    # balances ----------------------------------------------------------------------------------
    def upsert_balances(
        self,
        venue: str,
        balances: list[Balance],
        usd_values: Mapping[str, Decimal] | None = None,
        ts: int | None = None,
    ) -> None:
        """Insert or update one row per asset; without usd_values the stored USD value is kept."""
        if not balances:
            return
        now = _now_ms() if ts is None else ts
        rows = [
            {
                "venue": venue,
                "asset": b.asset,
                "free": b.free,
                "locked": b.locked,
                "total": b.total,
                "usd_value": usd_values.get(b.asset) if usd_values is not None else None,
                "updated_ts": now,
            }
            for b in balances
        ]
        stmt = (
            self._upsert_balance_stmt
            if usd_values is not None
            else self._upsert_balance_keep_usd_stmt
        )
        self._run_many(stmt, rows)

    def load_balances(self, venue: str | None = None) -> list[Balance]:
        """Return stored balances, by venue then asset."""
        stmt = select(
            balances_table.c.venue,
            balances_table.c.asset,
            balances_table.c.free,
            balances_table.c.locked,
        )
        if venue is not None:
            stmt = stmt.where(balances_table.c.venue == venue)
        stmt = stmt.order_by(balances_table.c.venue, balances_table.c.asset)
        return [Balance(r.venue, r.asset, r.free, r.locked) for r in self._read(stmt)]

    def load_balance_rows(self, venue: str | None = None) -> list[dict[str, Any]]:
        """Return stored balance rows as dicts, including total, usd_value and updated_ts."""
        stmt = select(balances_table)
        if venue is not None:
            stmt = stmt.where(balances_table.c.venue == venue)
        stmt = stmt.order_by(balances_table.c.venue, balances_table.c.asset)
        return [dict(r._mapping) for r in self._read(stmt)]

    def record_balance_adjustment(
        self,
        venue: str,
        asset: str,
        ledger_total: Decimal,
        venue_total: Decimal,
        reason: str,
        ts: int,
    ) -> int:
        """Record a reconciliation correction (difference = venue_total - ledger_total)."""
        result = self._write(
            balance_adjustments.insert(),
            {
                "venue": venue,
                "asset": asset,
                "ledger_total": ledger_total,
                "venue_total": venue_total,
                "difference": venue_total - ledger_total,
                "reason": reason,
                "ts": ts,
            },
        )
        return _new_id(result)

    def load_balance_adjustments(self, venue: str | None = None) -> list[dict[str, Any]]:
        """Return recorded balance corrections, newest first."""
        stmt = select(balance_adjustments)
        if venue is not None:
            stmt = stmt.where(balance_adjustments.c.venue == venue)
        stmt = stmt.order_by(balance_adjustments.c.id.desc())
        return [dict(r._mapping) for r in self._read(stmt)]

    # strategy runs -----------------------------------------------------------------------------
    def save_run_state(self, state: RunState) -> None:
        """Insert or replace the run state of one strategy."""
        self._write(
            self._upsert_run_stmt,
            {
                "strategy_id": state.strategy_id,
                "status": state.status,
                "total_trades": state.total_trades,
                "winning_trades": state.winning_trades,
                "losing_trades": state.losing_trades,
                "total_pnl": state.total_pnl,
                "daily_pnl": state.daily_pnl,
                "daily_pnl_day": state.daily_pnl_day,
                "last_signal_ts": state.last_signal_ts,
                "last_trade_ts": state.last_trade_ts,
                "cursor_ts": state.cursor_ts,
                "state": state.state,
                "updated_ts": state.updated_ts or _now_ms(),
            },
        )

    def load_run_state(self, strategy_id: str) -> RunState | None:
        """Return the stored run state of one strategy, or None."""
        stmt = select(strategy_runs).where(strategy_runs.c.strategy_id == strategy_id)
        rows = self._read(stmt)
        return _run_state_from_row(rows[0]) if rows else None

    def load_run_states(self) -> list[RunState]:
        """Return the run state of every strategy, by strategy id."""
        stmt = select(strategy_runs).order_by(strategy_runs.c.strategy_id)
        return [_run_state_from_row(r) for r in self._read(stmt)]

    # audit log ---------------------------------------------------------------------------------
    def append_events(self, batch: Sequence[Event]) -> None:
        """Append several events to the audit log in one statement."""
        if not batch:
            return
        self._run_many(
            self._insert_events_stmt,
            [
                {
                    "ts": e.ts,
                    "kind": e.kind,
                    "severity": e.severity,
                    "venue": e.venue,
                    "symbol": e.symbol,
                    "strategy_id": e.strategy_id,
                    "data": e.data,
                }
                for e in batch
            ],
        )

    def append_event(self, event: Event) -> int:
        """Append one event to the audit log and return its id."""
        result = self._write(
            self._insert_event_stmt,
            {
                "ts": event.ts,
                "kind": event.kind,
                "severity": event.severity,
                "venue": event.venue,
                "symbol": event.symbol,
                "strategy_id": event.strategy_id,
                "data": event.data,
            },
        )
        return _new_id(result)

    def load_events(
        self, *, kind_prefix: str | None = None, since_ts: int | None = None, limit: int = 100
    ) -> list[Event]:
        """Return audit events, newest first; kind_prefix="order." matches every order event."""
        stmt = select(events)
        if kind_prefix:
            stmt = stmt.where(events.c.kind.startswith(kind_prefix, autoescape=True))
        if since_ts is not None:
            stmt = stmt.where(events.c.ts >= since_ts)
        stmt = stmt.order_by(events.c.ts.desc(), events.c.id.desc()).limit(limit)
        return [
            Event(
                kind=r.kind,
                ts=r.ts,
                data=r.data or {},
                venue=r.venue,
                symbol=r.symbol,
                strategy_id=r.strategy_id,
                severity=r.severity,
            )
            for r in self._read(stmt)
        ]

    # key/value state ---------------------------------------------------------------------------
    def kv_get(self, key: str) -> Any | None:
        """Return the JSON value stored under `key` (Decimals come back as strings), or None."""
        rows = self._read(select(kv_state.c.value).where(kv_state.c.key == key))
        return rows[0][0] if rows else None

    def kv_set(self, key: str, value: Any, ts: int | None = None) -> None:
        """Store a JSON-able value under `key` (Decimals are stored as strings)."""
        self._run(
            self._upsert_kv_stmt,
            {"key": key, "value": value, "updated_ts": _now_ms() if ts is None else ts},
        )

    def kv_delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        self._write(kv_state.delete().where(kv_state.c.key == key))


# row mapping -------------------------------------------------------------------------------------
def _order_row(o: Order) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "strategy_id": o.strategy_id,
        "venue": o.venue,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "amount": o.amount,
        "price": o.price,
        "time_in_force": o.time_in_force.value,
        "reduce_only": o.reduce_only,
        "status": o.status.value,
        "venue_order_id": o.venue_order_id,
        "filled": o.filled,
        "avg_price": o.avg_price,
        "fee": o.fee,
        "price_bound": o.price_bound,
        "stop_loss": o.stop_loss,
        "take_profit": o.take_profit,
        "signal": o.signal,
        "reason": o.reason,
        "created_ts": o.created_ts,
        "updated_ts": o.updated_ts,
    }


def _order_from_row(r: Row[Any]) -> Order:
    return Order(
        client_order_id=r.client_order_id,
        strategy_id=r.strategy_id,
        venue=r.venue,
        symbol=r.symbol,
        side=Side(r.side),
        type=OrderType(r.type),
        amount=r.amount,
        price=r.price,
        time_in_force=TimeInForce(r.time_in_force),
        reduce_only=bool(r.reduce_only),
        status=OrderStatus(r.status),
        venue_order_id=r.venue_order_id,
        filled=r.filled,
        avg_price=r.avg_price,
        fee=r.fee,
        created_ts=r.created_ts,
        updated_ts=r.updated_ts,
        reason=r.reason,
        price_bound=r.price_bound,
        stop_loss=r.stop_loss,
        take_profit=r.take_profit,
        signal=dict(r.signal or {}),
    )


def _fill_row(f: Fill, strategy_id: str) -> dict[str, Any]:
    return {
        "venue": f.venue,
        "symbol": f.symbol,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "strategy_id": strategy_id,
        "side": f.side.value,
        "price": f.price,
        "amount": f.amount,
        "fee": f.fee,
        "fee_asset": f.fee_asset,
        "liquidity": f.liquidity.value,
        "ts": f.ts,
    }


def _fill_from_row(r: Row[Any]) -> Fill:
    return Fill(
        venue=r.venue,
        symbol=r.symbol,
        client_order_id=r.client_order_id,
        venue_order_id=r.venue_order_id,
        trade_id=r.trade_id,
        side=Side(r.side),
        price=r.price,
        amount=r.amount,
        fee=r.fee,
        fee_asset=r.fee_asset,
        liquidity=LiquiditySide(r.liquidity),
        ts=r.ts,
    )


def _side_name(side: Side) -> str:
    return "long" if side is Side.BUY else "short"


def _position_row(pos: Position, mark: Decimal | None) -> dict[str, Any]:
    return {
        "venue": pos.venue,
        "symbol": pos.symbol,
        "strategy_id": pos.strategy_id,
        "side": "short" if pos.quantity < 0 else "long",
        "status": _OPEN,
        "quantity": abs(pos.quantity),
        "entry_price": pos.avg_entry,
        "entry_ts": pos.opened_ts,
        "stop_loss": pos.stop_loss,
        "take_profit": pos.take_profit,
        "realized_pnl": pos.realized_pnl,
        "fees": pos.fees,
        "current_price": mark,
        "unrealized_pnl": pos.unrealized_pnl(mark) if mark is not None else None,
        "exit_price": None,
        "exit_ts": None,
        "pnl": None,
        "pnl_pct": None,
        "trip_pnl": pos.trip_pnl,
        "trip_max_qty": pos.trip_max_qty,
        "trip_entry": pos.trip_entry,
        "last_exit_price": pos.last_exit_price,
        "updated_ts": pos.updated_ts,
    }


def _position_from_row(r: Row[Any]) -> Position:
    qty: Decimal = r.quantity
    return Position(
        venue=r.venue,
        symbol=r.symbol,
        strategy_id=r.strategy_id,
        quantity=-qty if r.side == "short" else qty,
        avg_entry=r.entry_price,
        realized_pnl=r.realized_pnl,
        fees=r.fees,
        opened_ts=r.entry_ts,
        updated_ts=r.updated_ts,
        stop_loss=r.stop_loss,
        take_profit=r.take_profit,
        trip_pnl=r.trip_pnl,
        trip_max_qty=r.trip_max_qty,
        trip_entry=r.trip_entry,
        last_exit_price=r.last_exit_price,
    )


def _flat_position_from_row(r: Row[Any]) -> Position:
    """The position a closed row leaves behind: flat, with its running P&L, fees, last trip."""
    return Position(
        venue=r.venue, symbol=r.symbol, strategy_id=r.strategy_id,
        realized_pnl=r.realized_pnl, fees=r.fees, opened_ts=r.entry_ts,
        updated_ts=r.updated_ts, stop_loss=r.stop_loss, take_profit=r.take_profit,
        trip_pnl=r.pnl, trip_max_qty=r.quantity, trip_entry=r.trip_entry,
        last_exit_price=r.last_exit_price,
    )  # fmt: skip


def _run_state_from_row(r: Row[Any]) -> RunState:
    return RunState(
        strategy_id=r.strategy_id,
        status=r.status,
        total_trades=r.total_trades,
        winning_trades=r.winning_trades,
        losing_trades=r.losing_trades,
        total_pnl=r.total_pnl,
        daily_pnl=r.daily_pnl,
        daily_pnl_day=r.daily_pnl_day,
        last_signal_ts=r.last_signal_ts,
        last_trade_ts=r.last_trade_ts,
        cursor_ts=r.cursor_ts,
        state=dict(r.state or {}),
        updated_ts=r.updated_ts,
    )
