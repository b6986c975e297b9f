"""Scan on every update, execute the best cycle: one cycle at a time, with a cooldown.

```python
runner = TriangularArbRunner(scanner, executor, clock=node.clock, cooldown_s=2)
runner.on_ticker("ETH/BTC", 0.0505, 0.0506, 3.0, 2.5)   # rescores, may start a cycle
runner.on_book("ETH/BTC", bids, asks)                    # same, and sizes from the depth
await runner.wait_idle()
```

An update only rescores the cycles that touch its market (tens of microseconds) and, when no
cycle is running and the cooldown has passed, starts the best executable cycle above the
threshold as a task: the caller's event loop never waits for a cycle to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable, Sequence
from decimal import Decimal
from typing import Protocol

from tradeguard.model.errors import ConfigError
from tradeguard.strategies.triangular.executor import ArbExecution, TriangularExecutor
from tradeguard.strategies.triangular.markets import Levels, Ticker
from tradeguard.strategies.triangular.opportunity import Opportunity
from tradeguard.strategies.triangular.scanner import TriangularScanner

log = logging.getLogger(__name__)


class _Clock(Protocol):
    def now_ms(self) -> int: ...


class TriangularArbRunner:
    """Feed market updates to the scanner and hand the best opportunity to the executor."""

    def __init__(
        self,
        scanner: TriangularScanner,
        executor: TriangularExecutor,
        *,
        clock: _Clock,
        cooldown_s: float = 1.0,
        min_profit_pct: Decimal | None = None,
        top_n: int = 10,
        size_for: Callable[[Opportunity], Decimal | None] | None = None,
    ) -> None:
        if not 0 <= cooldown_s <= 3600:
            raise ConfigError(f"cooldown_s={cooldown_s} is out of range [0, 3600] seconds")
        if not 1 <= top_n <= 1000:
            raise ConfigError(f"top_n={top_n} is out of range [1, 1000] cycles looked at")
        self.scanner = scanner
        self.executor = executor
        self.clock = clock
        self.cooldown_ms = int(cooldown_s * 1000)
        self.min_profit_pct = (
            min_profit_pct if min_profit_pct is not None else executor.config.min_profit_pct
        )
        self.top_n = top_n
        self.size_for = size_for
        self.start_assets: Sequence[str] = executor.config.start_assets
        self.depth: dict[str, tuple[Levels, Levels]] = {}
        self.executions: list[ArbExecution] = []
        self.skipped_busy = 0
        self.skipped_cooldown = 0
        self._task: asyncio.Task[ArbExecution] | None = None
        self._cool_until = 0
        self._updates = 0  # updates applied so far; `_updated[symbol]`: the count at its last
        self._updated: dict[str, int] = {}

    @property
    def busy(self) -> bool:
        """Tell whether a cycle is running."""
        return self._task is not None and not self._task.done()

    def on_ticker(
        self,
        symbol: str,
        bid: float,
        ask: float,
        bid_size: float | None = None,
        ask_size: float | None = None,
    ) -> asyncio.Task[ArbExecution] | None:
        """Apply a best bid/ask; start the best cycle if one qualifies (returns its task)."""
        self._updates += 1
        self._updated[symbol] = self._updates
        self.scanner.update_ticker(symbol, bid, ask, bid_size, ask_size)
        return self.poll()

    def on_book(self, symbol: str, bids: Levels, asks: Levels) -> asyncio.Task[ArbExecution] | None:
        """Apply a book (best first): its top rescores, its depth sizes the next cycles."""
        self.depth[symbol] = (bids, asks)
        if not bids or not asks:
            self._updates += 1
            self._updated[symbol] = self._updates
            self.scanner.clear_ticker(symbol)
            return self.poll()
        b, a = bids[0], asks[0]
        return self.on_ticker(symbol, float(b[0]), float(a[0]), float(b[1]), float(a[1]))

    async def run(self, updates: AsyncIterable[Ticker]) -> None:
        """Consume a stream of tickers until it ends, then wait for the running cycle."""
        async for t in updates:
            self.on_ticker(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
        await self.wait_idle()

    def poll(self) -> asyncio.Task[ArbExecution] | None:
        """Start the best qualifying cycle unless one is running or the cooldown holds."""
        if self.busy:
            self.skipped_busy += 1
            return None
        if self.clock.now_ms() < self._cool_until:
            self.skipped_cooldown += 1
            return None
        opp = self.pick()
        if opp is None:
            return None
        size = self.size_for(opp) if self.size_for is not None else None
        self._task = asyncio.create_task(self._execute(opp, size), name=f"arb:{opp.cycle_id}")
        return self._task

    def pick(self) -> Opportunity | None:
        """Return the best executable cycle above the threshold from an allowed start asset."""
        ids = self.scanner.top_ids(self.top_n, min_profit_pct=float(self.min_profit_pct))
        for cycle_id in ids:
            opp = self.scanner.opportunity(
                int(cycle_id), depth=self.depth or None, prefer_start=self.start_assets
            )
            if self.start_assets and opp.start_asset not in self.start_assets:
                continue
            if opp.max_size > 0:
                return opp
        return None

    async def wait_idle(self) -> None:
        """Wait until the running cycle, if any, has finished."""
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def _execute(self, opp: Opportunity, size: Decimal | None) -> ArbExecution:
        started = self._updates
        try:
            rec = await self.executor.execute(opp, size)
            self.executions.append(rec)
            self._forget_gone_quotes(rec, started)
            return rec
        finally:
            self._cool_until = self.clock.now_ms() + self.cooldown_ms

    def _forget_gone_quotes(self, rec: ArbExecution, started: int) -> None:
        """Take out the markets where an order of `rec` expired short of its amount: the venue
        had not what their quote showed (a message lost, a snapshot older than the stream), and
        the same quote would start the same cycle again at the next update of any market, a
        loss each time it unwinds. A new quote of the market brings its cycles back; one that
        came while the cycle ran (after `started` updates) is that new quote, and stays."""
        for leg in (*rec.legs, *rec.unwinds):
            if leg.status == "expired" and self._updated.get(leg.symbol, 0) <= started:
                self.depth.pop(leg.symbol, None)
                self.scanner.clear_ticker(leg.symbol)
