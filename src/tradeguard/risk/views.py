"""What the risk engine reads: small protocols so risk imports nothing but the model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from tradeguard.model.instrument import Instrument
from tradeguard.model.order import Order
from tradeguard.model.position import Position
from tradeguard.risk.valuation import Priced


class PortfolioView(Priced, Protocol):
    """Positions, balances and equity as the engine sees them (USD-valued)."""

    def equity(self) -> Decimal: ...

    def open_positions(self) -> list[Position]: ...

    def net_quantity(self, venue: str, symbol: str) -> Decimal: ...

    def position(self, venue: str, symbol: str, strategy_id: str = "") -> Position: ...

    def stable_value(self) -> Decimal: ...

    def open_orders(self) -> list[Order]: ...


class MarketView(Protocol):
    """Reference prices, data freshness and instrument rules; with `venue`, that venue's own."""

    def mid(self, symbol: str, venue: str | None = None) -> Decimal | None: ...

    def last_update_ms(self, symbol: str, venue: str | None = None) -> int | None: ...

    def instrument(self, venue: str, symbol: str) -> Instrument | None: ...


class StateStore(Protocol):
    """Where the engine keeps its state across restarts (a JSON-safe dict)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...
