"""In-process event bus: synchronous handlers, plus queues for async consumers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tradeguard.model.events import Event

log = logging.getLogger(__name__)
Handler = Callable[[Event], None]


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

    def subscribe(self, handler: Handler, prefix: str = "") -> None:
        """Call `handler` for every event whose kind starts with `prefix` ("" for all)."""
        self._handlers.append((prefix, handler))
        self._by_kind = {}

    def unsubscribe(self, handler: Handler) -> None:
        self._handlers = [(p, h) for p, h in self._handlers if h is not handler]
        self._by_kind = {}

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
        for q in self._queues:
            if q.full():
                q.get_nowait()
                q.dropped += 1
            q.put_nowait(event)
