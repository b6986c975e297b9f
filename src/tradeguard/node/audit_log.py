"""The node's audit log: bus events buffered and written with the next journal commit.

The order path pays one commit, not one per event. An event told inside a transaction that
rolls back (a fill whose writes or commit failed) reports work the journal does not keep: it
is dropped with it, since the venue's next report of that work tells it again. Events told
before that transaction wait for the next commit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from tradeguard.model.events import Event

_BATCH = 500  # events buffered before a write of their own


class AuditLog:
    """Buffer audit events for `storage`'s next commit (`write` is its commit hook)."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.buffer: list[Event] = []
        # the open block (`StorageCore.undo_scope`) a rollback entry was registered in
        self._scope: object | None = None

    def on_event(self, event: Event) -> None:
        """Buffer `event`; written with the next commit, or at once if critical."""
        buf = self.buffer
        scope = self.storage.undo_scope()
        if scope is not None and scope is not self._scope:
            # the first event told in this block (a nested block's own, if it rolls back)
            self._scope = scope
            self.storage.on_rollback(partial(self._rolled_back, buf, len(buf)))
        buf.append(event)
        if event.severity == "critical":
            self.flush()
        elif len(buf) >= _BATCH:
            if self.storage.in_unit_of_work:
                # A replay's unit of work: write the batch into it (its commit carries them); a
                # nested transaction() would only grow the buffer until that commit.
                self.write()
            else:
                self.flush()

    def write(self) -> None:
        """Write the buffered events into the open transaction (a storage commit hook)."""
        self._scope = None
        if self.buffer:
            batch, self.buffer = self.buffer, []
            self.storage.append_events(batch)

    def flush(self) -> None:
        """Write buffered audit events now."""
        if self.buffer:
            with self.storage.transaction():
                pass  # the commit hook writes the buffer

    def _rolled_back(self, buf: list[Event], kept: int) -> None:
        # the transaction's events go; those told before it wait for the next commit (written
        # into it by its commit hook, they went with it)
        # (several entries may hold one buffer: an outer block's, again after a nested one)
        self._scope = None
        if self.buffer is not buf:
            buf.extend(self.buffer)
            self.buffer = buf
        del buf[kept:]
