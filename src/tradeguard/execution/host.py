"""What reconciliation and settlement need of the node: its parts, through Protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.order_manager import OrderManager
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.engine import RiskEngine
from tradeguard.storage.repository import Storage
from tradeguard.venues.base import Venue


class Traded(Protocol):
    """A strategy as reconciliation sees it: the venue and symbol whose fills it catches up."""

    @property
    def id(self) -> str: ...

    @property
    def venue(self) -> str: ...

    @property
    def symbol(self) -> str: ...


class Configured(Protocol):
    """The node's config as reconciliation reads it (its `reconcile` section)."""

    @property
    def reconcile(self) -> Any: ...


class SettlementHost(Protocol):
    """The parts settlement books resolved outcomes through."""

    @property
    def venues(self) -> Mapping[str, Venue]: ...

    @property
    def orders(self) -> OrderManager: ...

    @property
    def clock(self) -> Clock: ...


class ReconcileHost(SettlementHost, Protocol):
    """The parts reconciliation reads and corrects."""

    @property
    def config(self) -> Configured: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def portfolio(self) -> Portfolio: ...

    @property
    def risk(self) -> RiskEngine: ...

    @property
    def bus(self) -> EventBus: ...

    @property
    def strategies(self) -> Sequence[Traded]: ...

    def invalidate_equity(self) -> None: ...
