"""A venue's WebSocket book stream with a REST snapshot first and polling while it is down.

```python
quotes = stream_with_fallback("kalshi", symbols, fetch_quote, lambda: ws_quotes(...), 1.0)
```

The REST snapshot of every symbol comes first. Then the WebSocket feed runs; a sequence gap
(`StreamGap`) reconnects at once, which brings fresh snapshots; any other failure falls back to
REST polling every `poll_s` for `retry_s` before the stream is tried again. A quote is yielded
only when it differs from the last one of its symbol. A `fallback` (the live hub's) is told of
each failed attempt and of the first WebSocket quote after them, so the stream's health says
`rest_fallback` while REST stands in (docs/live_data.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp

from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.market import Quote
from tradeguard.venues.outcome_quotes import poll_quotes, quote_key

if TYPE_CHECKING:
    from tradeguard.marketdata.live.streams import RestFallback

log = logging.getLogger(__name__)


class StreamGap(Exception):
    """A book message arrived out of sequence: the local book can no longer be trusted."""


@dataclass(slots=True)
class StreamStats:
    """What a book stream went through: resyncs after gaps, fallbacks to polling."""

    resyncs: int = 0
    fallbacks: int = 0
    ws_quotes: int = 0
    polled_quotes: int = 0


# A hostile frame is a failure of the session too: nested thousands deep (RecursionError), a
# JSON list or bare value where an object belongs (AttributeError, TypeError), a number past
# Decimal's range (1e999999999: any arithmetic raises decimal.Overflow, an ArithmeticError).
_FAILURES = (
    ArithmeticError,
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    ValueError,
    KeyError,
    RecursionError,
    AttributeError,
    TypeError,
    AmbiguousVenueError,
    DefinitiveVenueError,
)


async def stream_with_fallback(
    name: str,
    symbols: list[str],
    fetch: Callable[[str], Awaitable[Quote]],
    ws_quotes: Callable[[], AsyncIterator[Quote]],
    poll_s: float,
    retry_s: float = 5.0,
    stats: StreamStats | None = None,
    fallback: RestFallback | None = None,
) -> AsyncIterator[Quote]:
    """Yield quotes of `symbols`: REST first, then the stream, polling while it fails."""
    stats = stats if stats is not None else StreamStats()
    last: dict[str, tuple[object, ...]] = {}

    def fresh(q: Quote) -> bool:
        key = quote_key(q)
        if last.get(q.symbol) == key:
            # not passed on, but it came: the stream is alive (a quiet market is not stale)
            if fallback is not None and fallback.arrived is not None:
                fallback.arrived(q.symbol)
            return False
        last[q.symbol] = key
        return True

    async def poll_round() -> list[Quote]:
        out = []
        for symbol in symbols:
            try:
                q = await fetch(symbol)
            except (AmbiguousVenueError, DefinitiveVenueError) as exc:
                log.warning("%s: book snapshot of %s failed: %s", name, symbol, exc)
                continue
            if fresh(q):
                stats.polled_quotes += 1
                out.append(q)
        return out

    for q in await poll_round():
        yield q
    while True:
        try:
            async for q in ws_quotes():
                if fallback is not None:
                    fallback.up()
                if fresh(q):
                    stats.ws_quotes += 1
                    yield q
            failure: Exception = ConnectionResetError("book stream closed by the venue")
        except StreamGap as exc:
            stats.resyncs += 1
            log.warning("%s: book stream resync: %s", name, exc)
            continue
        except _FAILURES as exc:
            failure = exc
        reason = f"{type(failure).__name__}: {failure}"
        if fallback is not None:
            fallback.down(failure)
        stats.fallbacks += 1
        log.warning("%s: book stream down (%s); polling REST every %s s", name, reason, poll_s)
        until = time.monotonic() + retry_s
        while True:
            for q in await poll_round():
                yield q
            if time.monotonic() >= until:
                break
            await asyncio.sleep(poll_s)


class BookSource(Protocol):
    """What a prediction venue streams its books with: its REST snapshot, poll period, stats."""

    name: str
    quote_poll_s: float
    book_stats: StreamStats

    async def fetch_quote(self, symbol: str) -> Quote: ...


def venue_book_stream(
    venue: BookSource,
    symbols: list[str],
    ws_quotes: Callable[[], AsyncIterator[Quote]] | None,
    fallback: RestFallback | None = None,
) -> AsyncIterator[Quote]:
    """The venue's books of `symbols`: its WebSocket feed with REST standing in while it is
    down (`stream_with_fallback`), or REST polling every `quote_poll_s` where there is none."""
    if ws_quotes is None:
        return poll_quotes(venue.fetch_quote, symbols, venue.quote_poll_s)
    return stream_with_fallback(
        venue.name,
        symbols,
        venue.fetch_quote,
        ws_quotes,
        venue.quote_poll_s,
        stats=venue.book_stats,
        fallback=fallback,
    )
