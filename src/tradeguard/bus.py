"""In-process event bus: synchronous handlers, plus queues for async consumers.

What leaves the process (the queues the API's event stream reads, handlers subscribed with
`committed=True`) hears an event told inside a transaction only once that transaction commits
(`hold_until_commit`): a commit the database refuses announces nothing, and the work's retry
announces it once. Plain handlers (the audit log, the alerts, the metrics) hear it at once and
take part in the transaction themselves.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from functools import partial

from tradeguard.model.events import Event

log = logging.getLogger(__name__)
Handler = Callable[[Event], None]


class _Held(threading.local):
    """One thread's events held for its open transaction (storage hooks run on the thread that
    commits or rolls back): another thread's commit neither announces nor drops them."""

    def __init__(self) -> None:
        self.events: list[Event] = []


def _truncate(events: list[Event], size: int) -> None:
    """Drop what was held since `events` held `size` (a rolled-back block's)."""
    del events[size:]


class EventQueue(asyncio.Queue[Event]):
    """A bounded queue of every event; `dropped` counts the oldest dropped to make room (its
    reader has a hole in its record from the first one on)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.dropped = 0


class EventBus:
    """Publish events to handlers by kind prefix; a failing handler never stops the others."""

    def __init__(self) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        self._queues: list[EventQueue] = []
        # kind -> its handlers in subscription order; the order path publishes a handful of
        # kinds several times per order, and a prefix test per handler per event adds up
        self._by_kind: dict[str, tuple[Handler, ...]] = {}
        self._committed: list[tuple[str, Handler]] = []
        self._committed_by_kind: dict[str, tuple[Handler, ...]] = {}
        # whether this thread has a transaction open, and what to undo if it rolls back
        self._holding: Callable[[], bool] | None = None
        self._on_rollback: Callable[[Callable[[], None]], None] | None = None
        self._held = _Held()

    def subscribe(self, handler: Handler, prefix: str = "", committed: bool = False) -> None:
        """Call `handler` for every event whose kind starts with `prefix` ("" for all); with
        `committed`, only once the transaction it was told in commits (never if it rolls
        back), as the queues are."""
        if committed:
            self._committed.append((prefix, handler))
            self._committed_by_kind = {}
        else:
            self._handlers.append((prefix, handler))
            self._by_kind = {}

    def unsubscribe(self, handler: Handler) -> None:
        self._handlers = [(p, h) for p, h in self._handlers if h is not handler]
        self._committed = [(p, h) for p, h in self._committed if h is not handler]
        self._by_kind, self._committed_by_kind = {}, {}

    def hold_until_commit(
        self, holding: Callable[[], bool], on_rollback: Callable[[Callable[[], None]], None]
    ) -> None:
        """Hold what leaves the process while `holding()` (a transaction is open on this
        thread); `on_rollback` takes back what a rolled-back block held. The storage's
        after-commit hook calls `announce_held`, its rollback hook `drop_held`."""
        self._holding, self._on_rollback = holding, on_rollback

    def announce_held(self) -> None:
        """Announce the events held for the transaction just committed on this thread, in the
        order they were told (a storage after-commit hook)."""
        held = self._held
        if held.events:
            events, held.events = held.events, []
            for event in events:
                self._announce(event)

    def drop_held(self) -> None:
        """Forget the events held for the transaction that rolled back on this thread (a
        storage rollback hook)."""
        self._held.events = []

    def queue(self, maxsize: int = 10_000) -> EventQueue:
        """Get a queue that receives every event; the oldest is dropped when it is full (and
        counted in its `dropped`)."""
        q = EventQueue(maxsize)
        self._queues.append(q)
        return q

    def release(self, q: EventQueue) -> None:
        if q in self._queues:
            self._queues.remove(q)

    def publish(self, event: Event) -> None:
        kind = event.kind
        handlers = self._by_kind.get(kind)
        if handlers is None:
            handlers = tuple(h for p, h in self._handlers if kind.startswith(p))
            self._by_kind[kind] = handlers
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed for %s", kind)
        if self._queues or self._committed:
            holding = self._holding
            if holding is not None and holding():
                held = self._held.events
                if self._on_rollback is not None:  # a nested block's rollback takes its own
                    self._on_rollback(partial(_truncate, held, len(held)))
                held.append(event)
            else:
                self._announce(event)

    def _announce(self, event: Event) -> None:
        kind = event.kind
        handlers = self._committed_by_kind.get(kind)
        if handlers is None:
            handlers = tuple(h for p, h in self._committed if kind.startswith(p))
            self._committed_by_kind[kind] = handlers
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed for %s", kind)
        for q in self._queues:
            if q.full():
                q.get_nowait()
                q.dropped += 1
            q.put_nowait(event)
