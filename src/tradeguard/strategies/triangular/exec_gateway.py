"""The narrow door the triangular executor trades through: the one order path, nothing else.

`OrderManagerGateway` adapts an `OrderManager` (risk check -> journal -> venue): it submits
intents, waits until an order reaches a terminal status (fills and status changes arrive through
the manager's fill listeners and `order.*` bus events), and reads instruments, book levels and
USD prices from the node's market state and portfolio. The executor never sees a venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from tradeguard.model.enums import Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.order import Order, OrderIntent

Levels = list[tuple[Decimal, Decimal]]


class SubmitOutcome(Protocol):
    """What a submit answers (the order manager's `SubmitResult`)."""

    @property
    def ok(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def order(self) -> Order | None: ...

    @property
    def reason(self) -> str: ...


class ExecGateway(Protocol):
    """What the executor may do and read: submit through risk, wait, cancel, look up."""

    venue: str

    async def submit(self, intent: OrderIntent) -> SubmitOutcome: ...

    async def wait_terminal(self, client_order_id: str, timeout_s: float) -> Order | None: ...

    async def cancel(self, client_order_id: str) -> None: ...

    def fills(self, client_order_id: str) -> list[Fill]: ...

    def forget(self, client_order_id: str) -> None: ...

    def instrument(self, symbol: str) -> Instrument | None: ...

    def instruments(self) -> list[Instrument]: ...

    def levels(self, symbol: str, side: Side) -> Levels | None: ...

    def usd_price(self, asset: str) -> Decimal | None: ...

    def publish(self, event: Event) -> None: ...


class _Manager(Protocol):
    """The parts of `OrderManager` the gateway uses."""

    orders: dict[str, Order]
    fill_listeners: list[Callable[[Fill, Order | None], None]]
    balance_only: set[str]
    bus: Any
    market: Any
    portfolio: Any

    async def submit(self, intent: OrderIntent) -> Any: ...

    async def cancel(self, client_order_id: str) -> Any: ...


class OrderManagerGateway:
    """Trade through an `OrderManager` for one venue and one strategy id."""

    def __init__(self, orders: _Manager, venue: str, strategy_id: str) -> None:
        self._om = orders
        self.venue = venue
        self.strategy_id = strategy_id
        self._fills: dict[str, list[Fill]] = {}
        self._waiters: dict[str, asyncio.Event] = {}
        orders.fill_listeners.append(self._on_fill)
        orders.bus.subscribe(self._on_order_event, "order.")
        # A leg is not a position of its own: its fills move balances and the executor reports
        # the cycle's result to the risk engine as one trade.
        orders.balance_only.add(strategy_id)

    # hooks -------------------------------------------------------------------------------------
    def _on_fill(self, fill: Fill, order: Order | None) -> None:
        if order is not None and order.strategy_id == self.strategy_id:
            self._fills.setdefault(fill.client_order_id, []).append(fill)
        self._wake(fill.client_order_id)

    def _on_order_event(self, event: Event) -> None:
        cid = event.data.get("client_order_id")
        if isinstance(cid, str):
            self._wake(cid)

    def _wake(self, cid: str) -> None:
        waiter = self._waiters.get(cid)
        order = self._om.orders.get(cid)
        if waiter is not None and order is not None and order.status.is_terminal:
            waiter.set()

    # ExecGateway -------------------------------------------------------------------------------
    async def submit(self, intent: OrderIntent) -> SubmitOutcome:
        """Send one intent down the order path (risk check, journal, venue)."""
        result: SubmitOutcome = await self._om.submit(intent)
        return result

    async def wait_terminal(self, client_order_id: str, timeout_s: float) -> Order | None:
        """Wait until the order is filled, expired, cancelled or rejected, or the timeout passes."""
        order = self._om.orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            return order
        waiter = self._waiters[client_order_id] = asyncio.Event()
        try:
            await asyncio.wait_for(waiter.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            self._waiters.pop(client_order_id, None)
        return self._om.orders.get(client_order_id)

    async def cancel(self, client_order_id: str) -> None:
        """Cancel what is left of an order (an IOC the venue has not closed yet)."""
        await self._om.cancel(client_order_id)

    def fills(self, client_order_id: str) -> list[Fill]:
        """Return the fills seen for one of this strategy's orders."""
        return list(self._fills.get(client_order_id, ()))

    def forget(self, client_order_id: str) -> None:
        """Drop what was kept about a finished order."""
        self._fills.pop(client_order_id, None)

    def instrument(self, symbol: str) -> Instrument | None:
        """Return the venue's rules for `symbol`, or None when it is not listed."""
        inst: Instrument | None = self._om.market.instrument(self.venue, symbol)
        return inst

    def instruments(self) -> list[Instrument]:
        """Return every market the venue lists (the routes an unwind may take)."""
        listed: dict[tuple[str, str], Instrument] = self._om.market.instruments
        return [inst for (venue, _), inst in listed.items() if venue == self.venue]

    def levels(self, symbol: str, side: Side) -> Levels | None:
        """Return the book side a `side` order takes (asks for a buy), best first, if known."""
        market = self._om.market
        book = market.books.get(symbol)
        if book is not None:
            got: Levels = book.asks() if side is Side.BUY else book.bids()
            return got
        quote = market.quotes.get(symbol)
        if quote is not None:
            if side is Side.BUY:
                return [(quote.ask, quote.ask_size)]
            return [(quote.bid, quote.bid_size)]
        return None

    def usd_price(self, asset: str) -> Decimal | None:
        """Return one unit of `asset` in USD from the portfolio's marks."""
        price: Decimal | None = self._om.portfolio.price_of(asset)
        return price

    def publish(self, event: Event) -> None:
        """Put an event on the node's bus (alerts, audit log, dashboard)."""
        self._om.bus.publish(event)
