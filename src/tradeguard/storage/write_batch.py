"""Writes held for a unit of work's commit, then run as one executemany per statement.

A backtest commits rarely (see `StorageCore.unit_of_work(batch=True)`): its writes need only be
in the database when the unit commits, not one by one as they happen. Held here, a commit runs
each table's rows with one `executemany` per run of the same statement instead of one `execute`
per row, and an upsert keyed by its primary key (an order's row, a balance, a key/value) is
written once with its last state. The database ends the commit exactly as if every statement had
run in turn:
- rows of one table run in the order they were written (a position opened, closed and opened
  again stays three statements in that order);
- keyed upserts overwrite every column but their key, so the last row for a key is the state
  that key would have reached; it runs where the key was first written (row ids keep their order);
- the orders table is written first: a transition row needs its order row (a foreign key).
Reads inside the unit run `flush()` first, so they see every write before them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from sqlalchemy import Connection

from tradeguard.storage.driver import DriverStatement

# tables whose rows others refer to (foreign keys), written first
_FIRST = ("orders",)


class WriteBatch:
    """Rows waiting for the commit of one unit of work, per table, in the order written."""

    __slots__ = ("_keyed", "_queues", "fill_keys", "flushed", "open_positions", "rows")

    def __init__(self) -> None:
        # table -> runs of one statement, in order: [statement, [driver parameters, ...]]. A run
        # per statement, not a (statement, parameters) pair per row: the parameters of a row hold
        # only plain values, which the cyclic collector stops tracking, and a long batch must
        # not make every full collection walk a pair per row.
        self._queues: dict[str, list[list[Any]]] = {}
        # table -> key -> (statement, row or driver parameters, whether they are parameters)
        self._keyed: dict[str, dict[Hashable, tuple[DriverStatement, Any, bool]]] = {}
        # (venue, symbol, trade_id, side) of every stored fill, read when first needed
        self.fill_keys: set[tuple[str, str, str, str]] | None = None
        # (venue, symbol, strategy_id) of every open position row, read when first needed
        self.open_positions: set[tuple[str, str, str]] | None = None
        self.rows = 0  # rows waiting
        # rows run by earlier flushes, and writes run past the batch: with `rows`, how many
        # writes the unit made so far (a nested block that changes the sum wrote something)
        self.flushed = 0

    def _run_of(self, stmt: DriverStatement) -> list[Any]:
        """The list to append `stmt`'s next rows to (a new run unless it is the last one)."""
        queue = self._queues.get(stmt.table)
        if queue is None:
            queue = self._queues[stmt.table] = []
        elif queue[-1][0] is stmt:
            params: list[Any] = queue[-1][1]
            return params
        params = []
        queue.append([stmt, params])
        return params

    def add(self, stmt: DriverStatement, row: Mapping[str, Any]) -> None:
        """Hold one row of `stmt` (its parameters are taken now)."""
        # `_run_of` inline: several rows an order come this way
        queue = self._queues.get(stmt.table)
        if queue is not None and queue[-1][0] is stmt:
            queue[-1][1].append(stmt.params(row))
        else:
            self._run_of(stmt).append(stmt.params(row))
        self.rows += 1

    def add_params(self, stmt: DriverStatement, params: list[Any]) -> None:
        """Hold several rows of `stmt` already given as driver parameters, in order."""
        if not params:
            return
        self._run_of(stmt).extend(params)
        self.rows += len(params)

    def add_keyed(
        self, stmt: DriverStatement, key: Hashable, row: Mapping[str, Any], snapshot: bool = True
    ) -> None:
        """Hold an upsert of the row keyed `key`; a later one for the same key replaces it.

        `snapshot=False` keeps the row itself and takes its parameters at the flush: for a row
        of immutable values built for this call (no later change can reach it).
        """
        keyed = self._keyed.get(stmt.table)
        if keyed is None:
            keyed = self._keyed[stmt.table] = {}
        if snapshot:
            keyed[key] = (stmt, stmt.params(row), True)
        else:
            keyed[key] = (stmt, row, False)
        self.rows += 1

    def held(self, table: str, key: Hashable) -> tuple[DriverStatement, Mapping[str, Any]] | None:
        """The statement and row held for `key` (rows kept with `snapshot=False` only)."""
        entry = self._keyed.get(table, {}).get(key)
        if entry is None or entry[2]:
            return None
        return entry[0], entry[1]

    def flush(self, conn: Connection) -> None:
        """Run every held row on `conn` (inside the unit's transaction) and forget them."""
        if not self.rows:
            return
        keyed, self._keyed = self._keyed, {}
        queues, self._queues = self._queues, {}
        self.flushed += self.rows
        self.rows = 0
        tables = [t for t in _FIRST if t in keyed or t in queues]
        tables += [t for t in {**keyed, **queues} if t not in _FIRST]
        for table in tables:
            entries = keyed.get(table)
            if entries:
                _run_keyed(conn, list(entries.values()))
            for stmt, params in queues.get(table, ()):
                stmt.execute_params_many(conn, params)

    def discard(self) -> None:
        """Forget every held row (the unit rolled back)."""
        self._keyed, self._queues, self.rows = {}, {}, 0


def _run_keyed(conn: Connection, rows: list[tuple[DriverStatement, Any, bool]]) -> None:
    """Run keyed rows in order, one executemany per run of the same statement."""
    start = 0
    n = len(rows)
    while start < n:
        stmt = rows[start][0]
        end = start + 1
        while end < n and rows[end][0] is stmt:
            end += 1
        stmt.execute_params_many(
            conn,
            [
                values if is_params else stmt.params(values)
                for _, values, is_params in rows[start:end]
            ],
        )
        start = end
