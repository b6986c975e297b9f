"""Binance's MAX_NUM_ORDERS filter: an account holds at most so many open orders per symbol.

Without it one client of the rehearsal exchange could rest orders without end: every one is
kept, walked by matching and listed by `openOrders`, so a single bot could slow or starve the
venue for every other. Only client orders count (REST orders and both legs of an OCO); the
house's liquidity is not capped. The filter is published in `exchangeInfo` as Binance does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeguard.sandbox.params import ApiError

if TYPE_CHECKING:
    from tradeguard.sandbox.matching import MatchingEngine

MAX_NUM_ORDERS = 200  # Binance's spot figure


class OpenOrderCap:
    """Count an account's open orders per symbol and refuse the one over `limit` (-1013)."""

    def __init__(self, engine: MatchingEngine, limit: int = MAX_NUM_ORDERS) -> None:
        self.engine = engine
        self.limit = limit
        self._ids: dict[tuple[str, str], list[int]] = {}

    def admit(self, account_id: str, symbol: str, count: int = 1) -> None:
        """Raise ApiError unless `count` more open orders fit under the limit."""
        key = (account_id, symbol)
        orders = self.engine.orders
        # Orders that filled, were cancelled or expired since leave the count here (bounded).
        live = [i for i in self._ids.get(key, ()) if not orders[i].is_final]
        self._ids[key] = live
        if len(live) + count > self.limit:
            raise ApiError(-1013, "Filter failure: MAX_NUM_ORDERS")

    def placed(self, account_id: str, symbol: str, order_ids: list[int]) -> None:
        """Record newly placed orders that are still open."""
        orders = self.engine.orders
        live = self._ids.setdefault((account_id, symbol), [])
        live.extend(i for i in order_ids if not orders[i].is_final)
