"""Balances that follow fills, for venues whose private channels carry fills but no balances.

Kalshi's `fill` channel and Polymarket's `user` channel report fills only. After each fill the
venue asks `BalanceReader.after_fill` for a balance read: one read runs at a time, fills that
arrive during it start one more read after it, and every read goes to the listener's
`on_balances`, as a ccxt venue's balance events do. The last figures delivered therefore come
from a read started after the last fill. Like those events, they are stored for display
(`tradeguard balances`) and never touch the ledger: only reconciliation and the balance sync
set ledger figures, and they wait while orders are in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tradeguard.model.balance import Balance
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError

log = logging.getLogger(__name__)


class BalanceReader:
    """Read a venue's balances after its fills and hand them on, one read at a time."""

    def __init__(
        self,
        venue: str,
        fetch: Callable[[], Awaitable[list[Balance]]],
        deliver: Callable[[str, list[Balance]], None],
    ) -> None:
        self.venue = venue
        self._fetch = fetch
        self._deliver = deliver
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.reads = 0  # reads delivered so far

    def after_fill(self) -> None:
        """Ask for a read of balances that includes every fill seen so far."""
        self._again = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read(), name=f"{self.venue}:balances")

    async def _read(self) -> None:
        while self._again:
            self._again = False
            try:
                balances = await self._fetch()
            except (AmbiguousVenueError, DefinitiveVenueError) as exc:
                # The next fill, reconciliation or the balance sync reads them again.
                log.warning("%s: balances after a fill not read: %s", self.venue, exc)
                return
            self._deliver(self.venue, balances)
            self.reads += 1

    async def idle(self) -> None:
        """Wait until no read is running (tests and shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def close(self) -> None:
        """Stop a running read."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
