"""Circuit-breaker parts: the per-venue error breaker, the order-rate bucket, UTC calendars."""

from __future__ import annotations

from collections import deque
from typing import Any

DAY_MS = 86_400_000


def utc_day(ts_ms: int) -> int:
    """Return the UTC day number (days since 1970-01-01) of an epoch-ms timestamp."""
    return ts_ms // DAY_MS


def iso_week(ts_ms: int) -> int:
    """Return a number that changes every Monday 00:00 UTC (ISO week boundary)."""
    # 1970-01-01 was a Thursday: shifting by 3 days puts week starts on Mondays.
    return (ts_ms // DAY_MS + 3) // 7


class VenueBreaker:
    """Open after `threshold` errors within a window; after a pause, let one probe through.

    closed -> open (too many errors) -> half_open (pause elapsed; one order allowed) ->
    closed (the probe's venue call succeeded) or open again (it failed).
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    __slots__ = ("failures", "last_error", "opened_ts", "probe_out", "state")

    def __init__(self) -> None:
        self.state = self.CLOSED
        self.failures: deque[int] = deque()
        self.opened_ts = 0
        self.probe_out = False
        self.last_error = ""

    def allows(self, now: int, half_open_after_ms: int) -> bool:
        """Tell whether an order may go to the venue now (moves open -> half_open when due)."""
        if self.state == self.CLOSED:
            return True
        if self.state == self.OPEN:
            if now - self.opened_ts < half_open_after_ms:
                return False
            self.state = self.HALF_OPEN
            self.probe_out = False
        return not self.probe_out

    def on_sent(self) -> None:
        if self.state == self.HALF_OPEN:
            self.probe_out = True

    def on_error(self, ts: int, error: str, threshold: int, window_ms: int) -> bool:
        """Count one failure; return True when this failure opens the breaker."""
        self.last_error = error
        if self.state == self.HALF_OPEN:
            self.state = self.OPEN
            self.opened_ts = ts
            self.probe_out = False
            return True
        if self.state == self.OPEN:
            return False
        failures = self.failures
        failures.append(ts)
        while failures and ts - failures[0] >= window_ms:
            failures.popleft()
        if len(failures) >= threshold:
            self.state = self.OPEN
            self.opened_ts = ts
            failures.clear()
            return True
        return False

    def trip(self, ts: int, error: str) -> bool:
        """Open at once (a refusal no retry can cure); return True when it was not open."""
        self.last_error = error
        if self.state == self.OPEN:
            return False
        self.state = self.OPEN
        self.opened_ts = ts
        self.probe_out = False
        self.failures.clear()
        return True

    def on_ok(self) -> bool:
        """Record a successful call; return True when it closes a half-open breaker."""
        if self.state == self.HALF_OPEN:
            self.state = self.CLOSED
            self.probe_out = False
            self.failures.clear()
            return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures": list(self.failures),
            "opened_ts": self.opened_ts,
            "probe_out": self.probe_out,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VenueBreaker:
        b = cls()
        b.state = str(data.get("state", cls.CLOSED))
        b.failures = deque(int(x) for x in data.get("failures", []))
        b.opened_ts = int(data.get("opened_ts", 0))
        # A probe sent before a restart has no answer any more: let a new one through.
        b.probe_out = False
        b.last_error = str(data.get("last_error", ""))
        return b


class RateBucket:
    """Token bucket for orders per second on one venue (a burst of up to `rate` orders)."""

    __slots__ = ("capacity", "last_ms", "rate_per_ms", "tokens")

    def __init__(self, rate_per_s: float, now: int) -> None:
        self.capacity = max(1.0, rate_per_s)
        self.rate_per_ms = rate_per_s / 1000.0
        self.tokens = self.capacity
        self.last_ms = now

    def available(self, now: int) -> bool:
        """Refill for the time elapsed and tell whether one order may go."""
        if now > self.last_ms:
            tokens = self.tokens + (now - self.last_ms) * self.rate_per_ms
            cap = self.capacity
            self.tokens = tokens if tokens < cap else cap
            self.last_ms = now
        # A tiny tolerance so float refills of exactly one token count as one.
        return self.tokens >= 1.0 - 1e-9

    def take(self) -> None:
        self.tokens -= 1.0

    def give_back(self) -> None:
        """Return the token of an order that was not sent after all."""
        tokens = self.tokens + 1.0
        self.tokens = tokens if tokens < self.capacity else self.capacity
