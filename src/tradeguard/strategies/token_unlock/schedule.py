"""Unlock windows: from `lead` hours before a large unlock to `lag` hours after it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.strategies.token_unlock.calendar import UnlockEvent

_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Window:
    """The time around one unlock during which a spot holder stays out (or a short is held)."""

    event: UnlockEvent
    start_ms: int
    end_ms: int


class UnlockSchedule:
    """The windows of one token's unlocks of at least `min_pct` % of supply, in time order."""

    def __init__(
        self, events: Iterable[UnlockEvent], min_pct: Decimal, lead_h: Decimal, lag_h: Decimal
    ) -> None:
        lead_ms = int(lead_h * _HOUR_MS)
        lag_ms = int(lag_h * _HOUR_MS)
        self.windows = sorted(
            (
                Window(e, e.unlock_ms - lead_ms, e.unlock_ms + lag_ms)
                for e in events
                if e.pct_of_supply >= min_pct
            ),
            key=lambda w: w.start_ms,
        )
        self._starts = [w.start_ms for w in self.windows]
        self._by_key = {w.event.key: w for w in self.windows}

    def window_at(self, ms: int) -> Window | None:
        """Return the window holding `ms` (the one that started last when several overlap)."""
        # A calendar holds tens of events per token: a scan of the started ones is enough.
        for w in reversed(self.windows[: bisect_right(self._starts, ms)]):
            if ms < w.end_ms:
                return w
        return None

    def by_key(self, key: str) -> Window | None:
        """Return the window of the event whose `key` is given, if it is in this schedule."""
        return self._by_key.get(key)

    def next_window(self, ms: int) -> Window | None:
        """Return the first window starting after `ms`, if any."""
        i = bisect_right(self._starts, ms)
        return self.windows[i] if i < len(self.windows) else None
