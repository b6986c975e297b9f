"""Per-thread transaction state and the nested blocks of `StorageCore.transaction()`.

Each thread has its own open transaction (`Tx`); a `transaction()` opened inside it is a
`Nested` block: a savepoint at its first write and the undo entries told in it (`Frame`), or,
in a write batch, the count of the unit's writes as it began (`HalfWritten`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, NestedTransaction

from tradeguard.model.errors import TradeguardError
from tradeguard.storage.write_batch import WriteBatch


class HalfWritten(TradeguardError, RuntimeError):
    """A write batch's unit holds writes of a nested block that failed: refused at its commit.

    The run ends with it (the command line says it in one line, no traceback): the unit is
    rolled back to its last commit, and neither undoing the block alone (its changes to
    memory are not kept in a write batch, so memory would hold what the database does not)
    nor going on from the last commit (every event since would be dropped unsaid) is a true
    record of the run."""


class Tx(threading.local):
    # Per thread, so one thread's open transaction never swallows another thread's writes.
    conn: Connection | None = None
    depth: int = 0
    held: Connection | None = None  # kept checked out by holding_connection()
    unit: Any = None  # the open transaction of a unit of work (see unit_of_work())
    dirty: bool = False  # something was written in the open unit of work
    batch: WriteBatch | None = None  # the open unit's writes held for its commit (backtests)
    # what to put back in memory if the open transaction rolls back (see `on_rollback`)
    undo: list[Callable[[], None]] | None = None
    # the open nested blocks, innermost last (see `Nested`); `bare` counts those whose
    # savepoint is not taken yet (it is at their first write)
    frames: list[Frame] | None = None
    bare: int = 0
    # in a write batch: the batch's count of writes as each open nested block began, and the
    # failure of one that raised after writing (the unit's commit is then refused)
    marks: list[int] | None = None
    broken: str | None = None


class Frame:
    """A nested block: where its undo entries start, and its savepoint once it writes."""

    __slots__ = ("savepoint", "undo_from")

    def __init__(self, undo_from: int) -> None:
        self.undo_from = undo_from
        self.savepoint: NestedTransaction | None = None


class Nested:
    """A `transaction()` inside an open one: it joins it, and commits with it.

    An error leaving the block takes back what the block did, whether its caller catches the
    error or not: its writes (a savepoint, taken at its first write, is rolled back to) and
    its memory changes (its `on_rollback` entries run, newest first). What the open transaction
    did before and does after stays. In a write batch (a backtest) there is no savepoint: its
    writes are held with the unit's, and its memory changes are not kept. One that raises
    after writing makes the unit refuse its commit (`HalfWritten`: it rolls back to its last
    commit, the run ends and a resume does the work again), never recording half an event.
    """

    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def __enter__(self) -> None:
        tx = self._tx
        tx.depth += 1
        tx.dirty = True
        batch = tx.batch
        if batch is not None:
            marks = tx.marks
            if marks is None:
                tx.marks = [batch.rows + batch.flushed]
            else:
                marks.append(batch.rows + batch.flushed)
        else:
            frame = Frame(len(tx.undo) if tx.undo else 0)
            if tx.frames is None:
                tx.frames = [frame]
            else:
                tx.frames.append(frame)
            tx.bare += 1

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        tx = self._tx
        tx.depth -= 1
        batch = tx.batch
        if batch is not None:
            marks = tx.marks
            if marks:
                began = marks.pop()
                if kind is not None and batch.rows + batch.flushed != began and tx.broken is None:
                    tx.broken = f"{kind.__name__}: {str(exc[0])[:200]}".rstrip(": ")
            return
        frames = tx.frames
        if not frames:
            return
        frame = frames.pop()
        savepoint = frame.savepoint
        if savepoint is None:
            tx.bare -= 1
        if kind is None:
            if savepoint is not None and savepoint.is_active:
                savepoint.commit()  # RELEASE: its writes are the open transaction's now
            return
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        undo = tx.undo
        if undo and len(undo) > frame.undo_from:
            taken = undo[frame.undo_from :]
            del undo[frame.undo_from :]
            undo_all(taken)


def undo_all(entries: list[Callable[[], None]]) -> None:
    """Run undo entries newest first, every one even if one raises (the first error is raised
    after): taken out of the transaction's list, one skipped would never run."""
    error: BaseException | None = None
    for entry in reversed(entries):
        try:
            entry()
        except BaseException as exc:  # raised once the others have run
            if error is None:
                error = exc
    if error is not None:
        raise error


def take_savepoints(tx: Tx, conn: Connection) -> None:
    """Before the first write of open nested blocks: a savepoint each, outermost first."""
    if getattr(conn.connection.dbapi_connection, "in_transaction", True) is False:
        # sqlite3 opens its transaction at the first write, not at a SAVEPOINT: one taken
        # first would open its own, and its RELEASE would commit what the unit holds
        conn.exec_driver_sql("BEGIN")
    for frame in tx.frames or ():
        if frame.savepoint is None:
            frame.savepoint = conn.begin_nested()
    tx.bare = 0
