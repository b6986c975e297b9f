"""The state of a venue's private user-data stream (order, fill and balance updates), for health.

Orders filled while this stream is down are only learnt at the next reconciliation, so the
health check says per venue whether it is connected, since when, how old its last message is
and how often it was lost. A venue without such a stream (paper, a chain polled for receipts)
holds none.

```python
stream = UserStreamState()
stream.set_connected(True)     # the socket opened and the subscription stands
stream.on_message()            # an update arrived (connected too)
stream.set_connected(False)    # lost: reconnects + 1, until it is back
stream.to_json(now_ms)         # {"state": "disconnected", "since_ms": ..., "reconnects": 1, ...}
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tradeguard.model.errors import AmbiguousVenueError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class UserStreamState:
    """Connected or not, since when, the last message, and how often it was lost."""

    connected: bool = False
    since_ms: int | None = None  # when `connected` took its value (None: not tried yet)
    last_message_ms: int | None = None
    reconnects: int = 0  # times the stream was lost after it had been connected

    def set_connected(self, connected: bool) -> None:
        """Record the stream up or down; a change from up to down counts a reconnect."""
        if connected == self.connected and self.since_ms is not None:
            return
        if self.connected and not connected:
            self.reconnects += 1
        self.connected = connected
        self.since_ms = _wall_ms()

    def on_message(self) -> None:
        """Record an update received (the stream is connected)."""
        self.set_connected(True)
        self.last_message_ms = _wall_ms()

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """The state for the health answer: numbers and states only."""
        last = self.last_message_ms
        state = "connecting" if self.since_ms is None else None
        return {
            "state": state or ("connected" if self.connected else "disconnected"),
            "connected": self.connected,
            "since_ms": self.since_ms,
            "last_message_age_s": None if last is None else round(max(0, now_ms - last) / 1000, 3),
            "reconnects": self.reconnects,
        }


async def await_subscribed(venue: str, ready: asyncio.Event, what: str) -> None:
    """Wait up to 10 s for a stream to say it subscribed (`ready` set); AmbiguousVenueError
    naming `what` (the stream and its URL) when it does not."""
    try:
        await asyncio.wait_for(ready.wait(), 10)
    except TimeoutError:
        raise AmbiguousVenueError(venue, f"{what} did not subscribe within 10 s", "WS") from None


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a stream's task, if there is one, and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(value: object) -> int | None:
    """Epoch ms of an ISO 8601 time with its zone (RFC 3339 `...Z` too); None for any other
    value."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if when.tzinfo is None else (when - _EPOCH) // timedelta(milliseconds=1)


def frame_object(venue: str, text: str) -> dict[str, Any] | None:
    """A user-stream text frame as a JSON object; None, after one warning line, for anything
    else (an HTML error page from a proxy, a list, garbage): one bad frame must not end the
    stream that carries the account's fills."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        skip_frame(venue, f"not JSON: {text[:80]!r}")
        return None
    if not isinstance(data, dict):
        skip_frame(venue, f"not a JSON object: {text[:80]!r}")
        return None
    return data


def skip_frame(venue: str, why: str) -> None:
    """Say in one line that a user-stream frame was skipped, and why (the fill, if it was
    one, is learnt at the next reconciliation)."""
    log.warning("%s: fill stream frame skipped: %s", venue, why)


# What parsing a venue's fill row or frame raises when the row is not what the venue documents
FILL_ROW_ERRORS = (KeyError, IndexError, ValueError, TypeError)


def skip_reason(exc: Exception) -> str:
    """Why a fill row or frame is skipped, in one line."""
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def parsed_rows(
    venue: str,
    rows: Iterable[Any],
    parse: Callable[[Any], T],
    unreadable: dict[str, str] | None = None,
) -> list[T]:
    """Parse a venue's fill rows; a row no venue would send (a missing field, a NaN or negative
    amount) is skipped with one warning naming why instead of failing the whole answer (the
    balances read after fills and the next reconciliation still see what really happened).
    Why is noted in `unreadable` under each order id the row names (`order_id`,
    `taker_order_id`, `maker_orders[].order_id`): reconciliation escalates such an order."""
    out = []
    for row in rows:
        try:
            out.append(parse(row if isinstance(row, dict) else {}))
        except FILL_ROW_ERRORS as exc:
            log.warning("%s: fill row skipped: %s", venue, skip_reason(exc))
            if unreadable is not None and isinstance(row, dict):
                for oid in row_order_ids(row):
                    unreadable[oid] = skip_reason(exc)
    return out


def row_order_ids(row: dict[str, Any]) -> list[str]:
    """The order ids a fill row names (Kalshi's `order_id`; Polymarket's taker and makers)."""
    makers = row.get("maker_orders")
    ids = [row.get("order_id"), row.get("taker_order_id")]
    ids += (
        [m.get("order_id") for m in makers if isinstance(m, dict)]
        if isinstance(makers, list)
        else []
    )
    return [i for i in ids if isinstance(i, str) and i]
