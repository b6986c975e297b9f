"""The risk engine's state persisted in the database's kv table."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from tradeguard.backtest.replay_state import load_replay_state
from tradeguard.storage.repository import Storage

RISK_STATE_KEY = "risk.state"
# What only a change of trading state moves: equal, the two copies tell the same story.
_RISK_STATE_IDENTITY = ("state", "state_ts", "state_by", "last_kill", "last_resume")


class StorageStateStore:
    """Risk-engine state persisted in the database's kv table.

    A change of trading state (ACTIVE/REDUCING/HALTED) is written at once; counter updates
    ride on the next journal commit or checkpoint, so the order path pays no extra commit.
    """

    def __init__(self, storage: Storage, key: str = RISK_STATE_KEY) -> None:
        self.storage = storage
        self.key = key
        # the state to write at the next commit, or what builds it then (`save_later`)
        self._pending: dict[str, Any] | Callable[[], dict[str, Any]] | None = None
        self._last_state: Any = None
        storage.add_commit_hook(self._write_pending)

    def load(self) -> dict[str, Any] | None:
        value = self.storage.kv_get(self.key)
        # A replay commits the engine's counters with every candle it commits; they are the
        # newest unless the state was changed since (a kill or resume from the command line).
        replay = load_replay_state(self.storage)
        newer = replay.get("risk") if replay is not None else None
        if isinstance(newer, dict) and (
            not isinstance(value, dict)
            or all(newer.get(k) == value.get(k) for k in _RISK_STATE_IDENTITY)
        ):
            value = newer
        if isinstance(value, dict):
            self._last_state = value.get("state")
            return value
        return None

    def save(self, state: dict[str, Any]) -> None:
        self._pending = state
        self._commit(state.get("state"))

    def save_later(self, make: Callable[[], dict[str, Any]], state: str) -> None:
        """`save(make())`; inside a unit of work `make` runs at its commit instead (the state
        as it stands then, built once for the many saves a backtest makes between commits)."""
        if not self.storage.in_unit_of_work:
            self.save(make())
            return
        self._pending = make
        self._commit(state)

    def _commit(self, state: Any) -> None:
        if state != self._last_state or self.storage.in_transaction:
            stored, self._last_state = self._last_state, state
            with self.storage.transaction():
                # a failed commit stored nothing: the next save of this state commits at once
                self.storage.on_rollback(partial(setattr, self, "_last_state", stored))

    def flush(self) -> None:
        """Write now a state `save` left for the next commit (a stop commits nothing after)."""
        if self._pending is not None:
            with self.storage.transaction():
                pass  # the commit hook writes it

    def _write_pending(self) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            # written by the next commit if this one fails, unless a newer save came meanwhile
            self.storage.on_rollback(partial(self._put_back, state))
            self.storage.kv_set(self.key, state() if callable(state) else state)

    def _put_back(self, state: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        if self._pending is None:
            self._pending = state
