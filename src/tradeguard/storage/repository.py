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

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from tradeguard.model import Event
from tradeguard.storage.order_store import OrderStore
from tradeguard.storage.position_store import PositionStore
from tradeguard.storage.rows import OPEN_STATUSES, RunState, new_id, now_ms, run_state_from_row
from tradeguard.storage.tables import events, kv_state, strategy_runs

__all__ = ["OPEN_STATUSES", "RunState", "Storage"]


class Storage(OrderStore, PositionStore):
    """Read and write the domain model; every write commits unless inside `transaction()`."""

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
                "updated_ts": state.updated_ts or now_ms(),
            },
        )

    def load_run_state(self, strategy_id: str) -> RunState | None:
        """Return the stored run state of one strategy, or None."""
        stmt = select(strategy_runs).where(strategy_runs.c.strategy_id == strategy_id)
        rows = self._read(stmt)
        return run_state_from_row(rows[0]) if rows else None

    def load_run_states(self) -> list[RunState]:
        """Return the run state of every strategy, by strategy id."""
        stmt = select(strategy_runs).order_by(strategy_runs.c.strategy_id)
        return [run_state_from_row(r) for r in self._read(stmt)]

    # audit log ---------------------------------------------------------------------------------
    def append_events(self, batch: Sequence[Event]) -> None:
        """Append several events to the audit log in one statement."""
        if not batch:
            return
        stmt = self._insert_events_stmt
        # The columns are the Event's own field names: read straight off each event.
        self._run_params(stmt, stmt.params_of_objects(batch))

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
        return new_id(result)

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
        row = {"key": key, "value": value, "updated_ts": now_ms() if ts is None else ts}
        batch = self._batch()
        if batch is not None:
            batch.add_keyed(self._upsert_kv_stmt, key, row)  # the value is encoded now
            self._tx.dirty = True
            return
        self._run(self._upsert_kv_stmt, row)

    def kv_prefixed(self, prefix: str) -> list[tuple[str, Any]]:
        """Return every (key, value) whose key starts with `prefix`, in key order."""
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = (
            select(kv_state.c.key, kv_state.c.value)
            .where(kv_state.c.key.like(like, escape="\\"))
            .order_by(kv_state.c.key)
        )
        return [(str(k), v) for k, v in self._read(stmt)]

    def kv_delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        self._write(kv_state.delete().where(kv_state.c.key == key))
