"""One quote stream per venue, following a set of symbols that may grow while the node runs.

```python
pumps = QuotePumps(node.on_quote)
pumps.sync({venue: ["BTC/USDT"]})            # starts the venue's stream
pumps.sync({venue: ["BTC/USDT", "ETH/USDT"]})  # a bot took ETH: the stream restarts with both
pumps.raise_failed()                          # re-raise what a stream died of
await pumps.close()
```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from tradeguard.model.market import Quote


class QuoteSource(Hashable, Protocol):
    """A venue that streams best bid/ask updates."""

    @property
    def name(self) -> str: ...

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]: ...


S = TypeVar("S", bound=QuoteSource)


class QuotePumps(Generic[S]):
    """Keep one streaming task per source, restarted when its wanted symbols change."""

    def __init__(self, on_quote: Callable[[Quote], Awaitable[None]]) -> None:
        self.on_quote = on_quote
        self.tasks: dict[S, tuple[list[str], asyncio.Task[None]]] = {}

    def sync(self, wanted: dict[S, list[str]]) -> None:
        """Start, restart or stop streams so each source streams exactly `wanted[source]`."""
        for source in list(self.tasks):
            if source not in wanted:
                self.tasks.pop(source)[1].cancel()
        for source, symbols in wanted.items():
            current = self.tasks.get(source)
            if current is not None and set(current[0]) == set(symbols):
                continue
            if current is not None:
                current[1].cancel()
            task = asyncio.create_task(self._pump(source, symbols), name=f"quotes:{source.name}")
            self.tasks[source] = (list(symbols), task)

    async def _pump(self, source: S, symbols: list[str]) -> None:
        async for quote in source.stream_quotes(symbols):
            await self.on_quote(quote)

    def raise_failed(self) -> None:
        """Re-raise the error a stream stopped with, if any did."""
        for _, task in self.tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def close(self) -> None:
        """Stop every stream."""
        tasks = [t for _, t in self.tasks.values()]
        self.tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
