"""A per-venue token bucket by request weight, with a shared pause after a 429/418."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """Spend `weight` tokens per request; refill `refill_per_s`; `pause` blocks every caller.

    ```python
    limiter = RateLimiter(capacity=100, refill_per_s=20)
    await limiter.acquire(weight=2)   # waits while the bucket is empty or a pause is running
    limiter.pause(1.0)                # after a 429 with Retry-After: 1
    ```
    """

    def __init__(
        self,
        capacity: float = 100.0,
        refill_per_s: float = 20.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError(
                f"rate limiter capacity={capacity} and refill_per_s={refill_per_s} must both be > 0"
            )
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = capacity
        self._stamp = monotonic()
        self._paused_until = 0.0
        self.waited_s = 0.0  # total time callers spent waiting, for metrics

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_s)
            self._stamp = now

    async def acquire(self, weight: float = 1.0) -> None:
        """Wait until `weight` tokens are free and no pause is running, then take them."""
        weight = min(weight, self.capacity)  # a request heavier than the bucket still goes out
        while True:
            now = self._monotonic()
            if self._paused_until > now:
                wait = self._paused_until - now
            else:
                self._refill(now)
                # A hair of tolerance: float refill can stall a few ulps short of `weight`.
                if self._tokens >= weight - 1e-9:
                    self._tokens = max(0.0, self._tokens - weight)
                    return
                wait = max((weight - self._tokens) / self.refill_per_s, 1e-6)
            self.waited_s += wait
            await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (the venue asked us to back off); empty the bucket."""
        now = self._monotonic()
        self._paused_until = max(self._paused_until, now + max(seconds, 0.0))
        self._tokens = 0.0
        self._stamp = max(self._stamp, self._paused_until)

    @property
    def paused_for_s(self) -> float:
        """Seconds left of the current pause (0 when none)."""
        return max(0.0, self._paused_until - self._monotonic())
