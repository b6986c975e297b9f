"""Balances that follow fills, for venues whose private channels carry fills but no balances.

Kalshi's `fill` channel and Polymarket's `user` channel report fills only. After each fill the
venue asks `BalanceReader.after_fill` for a balance read: one read runs at a time, fills that
arrive during it start one more read after it, and every read goes to the listener's
`on_balances`, as a ccxt venue's balance events do. The last figures delivered therefore come
from a read started after the last fill. Like those events, they are stored for display
(`tradeguard balances`) and never touch the ledger: only reconciliation and the balance sync
set ledger figures, and they wait while orders are in flight.

Reconciliation stores the figures of its own read and drops a queued write. So that a read of
ours that started earlier never lands after a fresher one, the venue calls `read_started` at
the top of `fetch_balances`; a read another one overlapped is made again, not delivered. And
as a read that began before ours (reconciliation's, begun before the fill) may be stored after
ours and drop it, the venue calls `read_finished` when each read ends: a read of ours delivered
while another was running is followed by one more once none is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tradeguard.model.balance import Balance
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError

log = logging.getLogger(__name__)
_MAX_OVERLAPS = 3  # then deliver anyway: the figures still follow the fills


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
        self._started = 0  # reads of the venue's balances begun, by anyone
        self._running = 0  # reads of the venue's balances under way, by anyone
        self._behind = False  # ours delivered while another read was under way
        self.reads = 0  # reads delivered so far

    def after_fill(self) -> None:
        """Ask for a read of balances that includes every fill seen so far."""
        self._again = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read(), name=f"{self.venue}:balances")

    def read_started(self) -> None:
        """Count a read of the venue's balances (ours, reconciliation's, the balance sync's)."""
        self._started += 1
        self._running += 1

    def read_finished(self) -> None:
        """Count a read that ended (answered or not); read again if ours may be stored first."""
        self._running = max(self._running - 1, 0)
        if self._running == 0 and self._behind:
            # An earlier read that was under way when ours was delivered is stored after it
            # (reconciliation drops what is queued): read once more, after it.
            self._behind = False
            self.after_fill()

    async def _read(self) -> None:
        overlapped = 0
        while self._again:
            self._again = False
            before = self._started
            try:
                balances = await self._fetch()
            except (AmbiguousVenueError, DefinitiveVenueError) as exc:
                # The next fill, reconciliation or the balance sync reads them again.
                log.warning("%s: balances after a fill not read: %s", self.venue, exc)
                return
            if self._started > before + 1 and overlapped < _MAX_OVERLAPS:
                # A read that began during ours may be stored first and be fresher: read again.
                overlapped += 1
                self._again = True
                continue
            self._deliver(self.venue, balances)
            self.reads += 1
            if self._running:
                self._behind = True

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
