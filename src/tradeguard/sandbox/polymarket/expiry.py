"""Good-till-date orders by expiration time: which ones are due now."""

from __future__ import annotations

import heapq


class Expiries:
    """Order ids keyed by their expiration (unix seconds), earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []

    def add(self, expires_s: int, order_id: str) -> None:
        heapq.heappush(self._heap, (expires_s, order_id))

    def due(self, now_s: int) -> list[str]:
        """Remove and return the orders whose expiration is at or before `now_s`."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now_s:
            out.append(heapq.heappop(self._heap)[1])
        return out
