"""The Venue protocol every venue (paper, sandbox, CCXT, DEX, prediction markets) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Protocol

from tradeguard.model.balance import Balance
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.user_stream import UserStreamState


class VenueListener(Protocol):
    """Receives what a venue pushes: order updates, fills, balances. Must be idempotent."""

    def on_order_report(self, report: OrderReport) -> None: ...

    def on_fill(self, fill: Fill) -> None: ...

    def on_balances(self, venue: str, balances: list[Balance]) -> None: ...


class Venue(ABC):
    """An account on one trading venue.

    `submit` returns the venue's acknowledgement; fills always arrive through the listener
    (possibly before `submit` returns). A definitive refusal raises DefinitiveVenueError; an
    unknown outcome raises AmbiguousVenueError and the caller must resolve it by
    `fetch_order(client_order_id)`, never by resending.
    """

    name: str
    # Whether the venue rests stop / take-profit orders (`OrderType.is_trigger`) itself, and
    # whether it takes an OCO pair through `submit_oco`.
    native_stops: bool = False
    native_oco: bool = False
    # Whether the venue pays 1 for each YES and NO contract of one market held together and
    # drops both (Kalshi: one signed position per market); the ledger books it as a netting.
    nets_outcome_pairs: bool = False
    # The private stream of order, fill and balance updates, where the venue has one (health
    # reads it); None: updates come from requests alone (paper, chains, polled venues).
    user_stream: UserStreamState | None = None

    def __init__(self, name: str) -> None:
        self.name = name
        self._listener: VenueListener | None = None
        # venue order id -> why a fill row of it could not be read (skipped, never booked)
        self.unreadable_fills: dict[str, str] = {}

    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def push_balances(self, venue: str, balances: list[Balance]) -> None:
        """Hand balances read from the venue to the listener, if one is set."""
        if self._listener is not None:
            self._listener.on_balances(venue, balances)

    async def connect(self) -> None:  # noqa: B027  (optional hook: paper venues need none)
        """Open connections and streams."""

    async def close(self) -> None:  # noqa: B027  (optional hook)
        """Close connections and streams."""

    @abstractmethod
    async def load_instruments(self) -> dict[str, Instrument]:
        """Return the venue's markets keyed by unified symbol (`BTC/USDT`)."""

    @abstractmethod
    async def submit(self, order: Order) -> OrderReport:
        """Send a new order carrying `order.client_order_id`."""

    async def submit_oco(self, take_profit: Order, stop: Order) -> list[OrderReport]:
        """Send a take-profit limit and a stop as one OCO list (`stop.oco_group` names it).

        Answers one report per leg. Errors as for `submit`; only where `native_oco` is set.
        """
        raise NotImplementedError(f"venue {self.name} has no OCO orders")

    @abstractmethod
    async def cancel(self, order: Order) -> OrderReport:
        """Cancel an open order by its client order id."""

    @abstractmethod
    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        """Look an order up by client order id; None if the venue does not know it."""

    @abstractmethod
    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        """Every open order on the account (all symbols when `symbol` is None)."""

    def open_orders_reads(self, symbols: list[str]) -> list[str | None]:
        """The `fetch_open_orders` calls that list every open order on `symbols` at the least
        cost: one account-wide call (None) where a symbol's list is the account's filtered here,
        as on most venues; per-symbol calls where the venue charges them less."""
        return [None]

    @abstractmethod
    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        """Executions on `symbol` at or after `since_ts` (epoch ms)."""

    @abstractmethod
    async def fetch_balances(self) -> list[Balance]:
        """Every non-zero balance on the account."""

    def lists(self, symbol: str) -> bool:
        """Tell whether the venue has a market `symbol`, traded here or not (reference prices
        for what the account holds; see execution/reference_prices.py)."""
        return False

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """The quote of a market the venue lists (public data), or None where it has none."""
        return None

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Best bid/ask updates for `symbols`, for live and sandbox trading.

        Venues fed by a replay (paper) do not stream; the node drives them instead.
        """
        raise NotImplementedError(f"venue {self.name} does not stream market data")
