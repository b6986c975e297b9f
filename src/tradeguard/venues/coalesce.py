"""One run at a time of a job asked for in bursts (a REST catch-up after a reconnect).

Requests arriving while a run is in flight share the one run that follows it: a burst of N
requests costs at most two runs, and every caller gets the outcome of a run that started after
it asked, so nothing that happened before the request is missed.

```python
catch_up = Coalesced(read_everything)
await asyncio.gather(*(catch_up() for _ in range(5)))  # read_everything ran once or twice
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Coalesced(Generic[T]):
    """Run `job` for a caller, at most one run in flight, the requests made meanwhile joined."""

    def __init__(self, job: Callable[[], Awaitable[T]]) -> None:
        self._job = job
        self._next: asyncio.Future[T] | None = None  # the run the waiting requests share
        self._driver: asyncio.Task[None] | None = None
        self.runs = 0

    async def __call__(self) -> T:
        """The outcome of a run started after this call (its exception, if it raised)."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieved)
        wanted = self._next
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        # A caller cancelled (its stream closing) does not cancel the run the others wait for.
        return await asyncio.shield(wanted)

    async def _drive(self) -> None:
        while self._next is not None:
            now, self._next = self._next, None
            self.runs += 1
            try:
                result = await self._job()
            except asyncio.CancelledError:
                for fut in (now, self._next):
                    if fut is not None:
                        fut.cancel()
                self._next = None
                raise
            except Exception as exc:
                now.set_exception(exc)
            else:
                now.set_result(result)

    async def close(self) -> None:
        """Cancel the run in flight and the one waiting."""
        driver, self._driver = self._driver, None
        if driver is not None and not driver.done():
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)
        if self._next is not None:
            self._next.cancel()
            self._next = None


def _retrieved(fut: asyncio.Future[Any]) -> None:
    # every waiter may have gone (cancelled): an exception left unread is not an error here
    if not fut.cancelled():
        fut.exception()
