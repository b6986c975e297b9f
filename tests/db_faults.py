"""Make chosen database writes fail as a locked SQLite database makes them fail.

`FailingCommit` (test_fill_commit_rollback) fails a transaction's commit through the commit
hooks, which run only for `transaction()` blocks: a lone write (`kv_set` of a report, a
checkpoint) commits without them, and a hook cannot tell which table a commit touches. This
one fails the write itself, picked by table (and, for `kv_state`, by key) and by how many
matching writes came before, on every path a write takes (compiled driver statements, one or
many rows, and SQLAlchemy statements): the driver raises `OperationalError: database is
locked`, the enclosing transaction rolls back, and nothing of it is kept.

```python
faults = FailingWrites(storage, "kv_state", key="reconcile.report", times=1)
faults = FailingWrites(storage, "balance_adjustments", verb="UPDATE")   # the count's mark
faults.locked = True        # every write of every table fails until set back to False
```
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError

from tradeguard.storage.repository import Storage

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


def locked() -> OperationalError:
    """The error SQLAlchemy raises for a write SQLite refused (busy timeout ran out)."""
    return OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))


def _text_table(sql: str) -> str:
    """The table a textual write (an upsert's `INSERT INTO t ...`) writes, else ""."""
    words = sql.replace("(", " ").split()
    for verb, at in (("INSERT", 2), ("UPDATE", 1), ("DELETE", 2)):
        if len(words) > at and words[0].upper() == verb:
            return words[at].strip('"')
    return ""


class FailingWrites:
    """Fail the writes of `table` (of `key` in kv_state; of one SQL verb) from the `nth`
    matching one on, `times` times (None: until disarmed); `locked` fails every write."""

    def __init__(
        self,
        storage: Storage,
        table: str = "",
        *,
        key: str | None = None,
        verb: str = "",
        nth: int = 1,
        times: int | None = 1,
    ) -> None:
        self.table, self.key, self.verb = table, key, verb.upper()
        self.nth, self.times = nth, times
        self.seen = 0  # matching writes tried
        self.failed = 0  # of them refused
        self.locked = False
        run, run_params, write = storage._run, storage._run_params, storage._write

        def _run(stmt: Any, row: Mapping[str, Any]) -> Any:
            self._check(stmt.table, stmt.sql, [row])
            return run(stmt, row)

        def _run_params(stmt: Any, params: list[Any]) -> None:
            self._check(stmt.table, stmt.sql, None)
            run_params(stmt, params)

        def _write(stmt: Any, params: Any = None) -> Any:
            sql = str(stmt)
            table = getattr(getattr(stmt, "table", None), "name", "") or _text_table(sql)
            self._check(table, sql, None)
            return write(stmt, params)

        storage._run = _run  # type: ignore[method-assign]
        storage._run_params = _run_params  # type: ignore[method-assign]
        storage._write = _write  # type: ignore[method-assign]

    @property
    def armed(self) -> bool:
        return self.times is None or self.failed < self.times

    def _check(self, table: str, sql: str, rows: Sequence[Mapping[str, Any]] | None) -> None:
        if self.locked:
            raise locked()
        if table != self.table or (self.verb and not sql.lstrip().upper().startswith(self.verb)):
            return
        if self.key is not None and not any(r.get("key") == self.key for r in rows or ()):
            return
        self.seen += 1
        if self.seen >= self.nth and self.armed:
            self.failed += 1
            raise locked()


async def journal_order(node: TradingNode) -> None:
    """Trade once through the sandbox node's order path (an IOC sell that fills): its symbol is
    one whose fills every reconciliation catches up, a trade by hand's too."""
    from decimal import Decimal

    from test_reconcile_missed_fill import _ioc_sell
    from tradeguard.model import OrderStatus, Quote

    d = Decimal
    await node.on_quote(Quote("BTC/USDT", node.clock.now_ms(), d("49999"), d(1), d("50001"), d(1)))
    first = await node.submit(_ioc_sell())
    assert first.order is not None and first.order.status is OrderStatus.FILLED, first
