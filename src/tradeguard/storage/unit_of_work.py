"""The storage core: transactions, units of work and the compiled statements of the order path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Row,
    Table,
    TextClause,
    bindparam,
    text,
)

from tradeguard.storage.db import Database
from tradeguard.storage.driver import DriverStatement
from tradeguard.storage.nesting import HalfWritten, Nested, Tx, take_savepoints, undo_all
from tradeguard.storage.rows import POSITION_OPEN
from tradeguard.storage.tables import balances as balances_table
from tradeguard.storage.tables import (
    events,
    fills,
    kv_state,
    order_transitions,
    orders,
    positions,
    strategy_runs,
)
from tradeguard.storage.write_batch import WriteBatch

_POSITION_KEY = ("venue", "symbol", "strategy_id")
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
    "updated_ts", "exit_trade_id",
)  # fmt: skip
_ORDER_IDENTITY = ("venue", "symbol", "created_ts")


class StorageCore:
    """Run statements: every write commits unless inside `transaction()` or a unit of work."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._engine = db.engine
        self._tx = Tx()
        self._nested = Nested(self._tx)  # per-thread state lives in Tx (a threading.local)
        self._commit_hooks: list[Callable[[], None]] = []
        self._after_commit_hooks: list[Callable[[], None]] = []
        self._rollback_hooks: list[Callable[[], None]] = []
        # writes the database refused that their writer goes on without, by what they store:
        # the refusal in the driver's words, until one of them is written (the health check)
        self.refused_writes: dict[str, str] = {}
        # The order path's writes: compiled once, run on the DB-API cursor (see driver.py).
        driver = self._driver
        # A client order id names one order on one market from its creation: those indexed
        # columns are left alone on update, so a status change rewrites no page of their indexes.
        self._upsert_order_stmt = driver(
            self._upsert(orders, ["client_order_id"], keep=_ORDER_IDENTITY), orders
        )
        fill_key = ["venue", "symbol", "trade_id", "side"]
        # RETURNING tells a skipped duplicate apart on both backends (rowcount does not on PG).
        self._insert_fill_stmt = driver(
            self._upsert(fills, fill_key, do_nothing=True, returning="id"), fills
        )
        # A write batch knows its duplicates before the database does: no RETURNING, which
        # executemany cannot take.
        self._insert_fill_batch_stmt = driver(self._upsert(fills, fill_key, do_nothing=True), fills)
        self._insert_transition_stmt = driver(self._insert(order_transitions), order_transitions)
        self._insert_event_stmt = events.insert()
        self._insert_events_stmt = driver(self._insert(events), events, objects=True)
        self._upsert_kv_stmt = driver(self._upsert(kv_state, ["key"]), kv_state)
        self._upsert_run_stmt = self._upsert(strategy_runs, ["strategy_id"])
        self._upsert_balance_stmt = driver(
            self._upsert(balances_table, ["venue", "asset"]), balances_table
        )
        self._upsert_balance_keep_usd_stmt = driver(
            self._upsert(
                balances_table, ["venue", "asset"], keep=("usd_value", "priced_elsewhere")
            ),
            balances_table,
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
            ),
            positions,
        )
        self._flat_position_stmt = driver(
            self._open_position_update(_FLAT_POSITION_FIELDS, coalesce=_KEEP_IF_NULL), positions
        )
        self._close_position_stmt = driver(
            self._open_position_update(_CLOSE_POSITION_FIELDS), positions
        )

    # transactions ------------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """Batch writes into one commit at the outermost exit; an escaping error rolls back all."""
        if self._tx.conn is not None:
            # Joining the open one: the order path does this several times per order.
            return self._nested
        return self._outermost_transaction()

    @contextmanager
    def _outermost_transaction(self) -> Iterator[None]:
        tx = self._tx
        held = tx.held
        try:
            if held is not None:
                with held.begin():
                    yield from self._outermost(tx, held)
            else:
                with self._engine.begin() as conn:
                    yield from self._outermost(tx, conn)
        except BaseException:  # the block or its commit failed: nothing of it is durable
            self._rolled_back()
            raise
        tx.undo = None
        self._after_commit()

    def _outermost(self, tx: Tx, conn: Connection) -> Iterator[None]:
        tx.conn, tx.depth = conn, 1
        try:
            yield
            for hook in self._commit_hooks:
                hook()
        finally:
            tx.conn, tx.depth, tx.frames, tx.bare = None, 0, None, 0

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
    def unit_of_work(self, batch: bool = False) -> Iterator[None]:
        """Join every write of this thread into one open transaction until `commit_unit()`.

        Nested `transaction()` blocks join it instead of committing; `commit_unit()` runs the
        commit hooks and commits everything written since the last one, or nothing if nothing
        was. An error escaping the block rolls the uncommitted writes back. Needs
        `holding_connection()` around it.

        `batch=True` (a backtest's commit policy) holds the order path's writes in memory until
        the commit, which runs them table by table with one executemany per statement (see
        `write_batch`); reads in the unit see them all. What the commit leaves in the database
        is the same; a row the database refuses (a constraint) raises at that commit (or the
        next read), not at the write, and the whole unit rolls back.
        """
        tx = self._tx
        held = tx.held
        if held is None or tx.conn is not None:
            raise RuntimeError("unit_of_work() needs holding_connection() and no open transaction")
        tx.unit = held.begin()
        tx.conn, tx.depth, tx.dirty = held, 1, False
        tx.batch = WriteBatch() if batch else None
        try:
            yield
            # Its end commits what is held for a commit (alerts, counts told since the last
            # one), written or not: never left to a thread that may end with it.
            tx.dirty = True
            self.commit_unit()  # a failing last commit rolls back as the block's error does
            tx.unit.commit()
        except BaseException:
            if tx.batch is not None:
                tx.batch.discard()
            tx.unit.rollback()
            self._rolled_back()
            raise
        finally:
            tx.conn, tx.depth, tx.unit, tx.dirty, tx.batch = None, 0, None, False, None
            tx.frames, tx.bare, tx.marks, tx.broken = None, 0, None, None

    @property
    def unit_dirty(self) -> bool:
        """Tell whether the open unit of work holds writes not yet committed."""
        return self._tx.dirty

    def unit_status(self) -> Tx:
        """This thread's transaction state; its `dirty` is `unit_dirty`, read without a call
        (for a loop that asks once per market event)."""
        return self._tx

    def mark_dirty(self) -> None:
        """Make the open unit of work commit at the next `commit_unit()`."""
        self._tx.dirty = True

    def commit_unit(self) -> bool:
        """Run the commit hooks and commit the open unit of work if it wrote anything."""
        tx = self._tx
        if tx.broken is not None:
            raise HalfWritten(
                f"the run stopped: a step failed after writing part of an event ({tx.broken}), "
                "and a write batch (a backtest's commits) cannot take those writes back alone; "
                "its writes were rolled back to the last commit instead of recording half an "
                "event, and a resume does the work since then again"
            )
        if tx.unit is None or not tx.dirty:
            return False
        for hook in self._commit_hooks:
            hook()
        if tx.batch is not None and tx.conn is not None:
            tx.batch.flush(tx.conn)
        tx.unit.commit()
        tx.unit = tx.conn.begin() if tx.conn is not None else None
        tx.dirty, tx.undo = False, None
        if tx.frames:  # committed inside nested blocks: what they did is durable now
            for frame in tx.frames:
                frame.savepoint, frame.undo_from = None, 0
            tx.bare = len(tx.frames)
        self._after_commit()
        return True

    def add_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` inside every outermost transaction, just before it commits.

        Used to piggyback buffered writes (the audit log) on journal commits.
        """
        self._commit_hooks.append(hook)

    def add_after_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` after every outermost commit (what may leave the process only once the
        work it reports is durable: alerts)."""
        self._after_commit_hooks.append(hook)

    def remove_after_commit_hook(self, hook: Callable[[], None]) -> None:
        """Stop running `hook` after commits (one added by `add_after_commit_hook`)."""
        if hook in self._after_commit_hooks:
            self._after_commit_hooks.remove(hook)

    def add_rollback_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` when an outermost transaction (or unit of work) rolls back: what was held
        for its commit (alerts) must be dropped, not sent with the next one."""
        self._rollback_hooks.append(hook)

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run `undo` if the open transaction (or unit of work) rolls back instead of
        committing: what a write changed in memory before its commit goes back with it, so
        memory and the database agree (a fill the venue reports again is then booked once).

        Called just before the change, with what it needs to put it back (an entry per object
        changed, not a copy of everything); entries run newest first. Nothing is kept where
        nothing would read it (`keeps_undo`)."""
        tx = self._tx
        if tx.conn is None or tx.batch is not None:
            return
        if tx.undo is None:
            tx.undo = [undo]
        else:
            tx.undo.append(undo)

    def undo_scope(self) -> object | None:
        """The innermost open block `on_rollback` entries now go with (a nested block, or the
        transaction): one entry per scope is enough to take back what was told in it. None
        where nothing is kept (`keeps_undo`)."""
        tx = self._tx
        if tx.conn is None or tx.batch is not None:
            return None
        return tx.frames[-1] if tx.frames else tx

    @property
    def keeps_undo(self) -> bool:
        """Tell whether `on_rollback` keeps what it is given: inside a transaction or a unit of
        work, but not outside one (each write commits at once) nor in a write batch's unit (a
        backtest: its failed commit ends the run, and the memory with it; a record per fill
        held until a rare commit would only grow)."""
        tx = self._tx
        return tx.conn is not None and tx.batch is None

    def _rolled_back(self) -> None:
        tx = self._tx
        undo, tx.undo = tx.undo, None
        if undo:
            undo_all(undo)
        for hook in self._rollback_hooks:
            hook()

    def _after_commit(self) -> None:
        # a hook may remove itself, or be removed by another (a commit one runs runs them too):
        # one removed meanwhile is not run
        hooks = self._after_commit_hooks
        for hook in list(hooks):
            if hook in hooks:
                hook()

    @property
    def batches_writes(self) -> bool:
        """Tell whether writes are held for the open unit's commit (a write batch: a backtest)."""
        tx = self._tx
        return tx.conn is not None and tx.batch is not None

    @property
    def in_transaction(self) -> bool:
        return self._tx.conn is not None

    @property
    def in_unit_of_work(self) -> bool:
        """Tell whether this thread has a unit of work open (see `unit_of_work()`)."""
        return self._tx.unit is not None

    def _write(self, stmt: Executable, params: Any = None) -> CursorResult[Any]:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            if tx.batch is not None:
                tx.batch.flush(conn)  # what was written before runs before it
                tx.batch.flushed += 1  # a write past the batch
            elif tx.bare:
                take_savepoints(tx, conn)
            return conn.execute(stmt, params)
        with self._begin() as conn:
            return conn.execute(stmt, params)

    def _run(self, stmt: DriverStatement, row: Mapping[str, Any]) -> Any:
        """Run one write; in a write batch it is held (and the result is None)."""
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            if tx.batch is not None:
                tx.batch.add(stmt, row)
                return None
            if tx.bare:
                take_savepoints(tx, conn)
            return stmt.execute(conn, row)
        with self._begin() as conn:
            return stmt.execute(conn, row)

    def _run_many(self, stmt: DriverStatement, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run (or, in a write batch, hold) several rows of `stmt`, in order."""
        params = stmt.params
        self._run_params(stmt, [params(r) for r in rows])

    def _run_params(self, stmt: DriverStatement, params: list[Any]) -> None:
        """`_run_many` for rows already turned into driver parameters (`params_of`)."""
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            tx.dirty = True
            if tx.batch is not None:
                tx.batch.add_params(stmt, params)
                return
            if tx.bare:
                take_savepoints(tx, conn)
            stmt.execute_params_many(conn, params)
            return
        with self._begin() as conn:
            stmt.execute_params_many(conn, params)

    def _read(self, stmt: Executable) -> Sequence[Row[Any]]:
        tx = self._tx
        conn = tx.conn
        if conn is not None:
            if tx.batch is not None:
                tx.batch.flush(conn)
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
    def _driver(self, clause: TextClause, table: Table, objects: bool = False) -> DriverStatement:
        engine = self._engine
        return DriverStatement(clause, engine.dialect, engine.hide_parameters, table.name, objects)

    def _batch(self) -> WriteBatch | None:
        """The open unit's write batch, or None when writes run as they come."""
        tx = self._tx
        return tx.batch if tx.conn is not None else None

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
            f"AND {q('strategy_id')} = :key_strategy_id AND {q('status')} = '{POSITION_OPEN}'"
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
