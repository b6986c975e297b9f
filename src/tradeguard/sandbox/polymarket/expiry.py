"""Good-till-date orders: the expiration an order may carry, and which ones are due now."""

from __future__ import annotations

import heapq
import re

_UINT = re.compile(r"[0-9]{1,20}")


def order_expiration(signed: dict[str, object], order_type: object, now_s: int) -> int:
    """The expiration (unix seconds) of a posted order, 0 for none; ValueError, in the CLOB's
    words, for one it refuses: not a whole number, a GTD order's not after now, or any on an
    order that is not GTD (only GTD orders may have a non-zero expiration)."""
    raw = str(signed.get("expiration", "0"))
    if not _UINT.fullmatch(raw):  # outside the signed hash
        raise ValueError(f"invalid expiration {signed.get('expiration')!r}")
    expires = int(raw)
    if order_type == "GTD" and expires <= now_s:
        raise ValueError(f"invalid expiration {expires} for GTD: not after {now_s}")
    if order_type != "GTD" and expires:
        raise ValueError(
            f"invalid expiration {expires}: only GTD orders may have a non-zero expiration "
            f"(orderType {order_type or 'GTC'!s}); send 0, or orderType GTD"
        )
    return expires


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
