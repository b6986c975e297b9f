"""Hand-written venue and risk stubs, and a small rig around a real OrderManager and Storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.config import ReconcileConfig
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.state import MarketState
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, Side, TradingState
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.reports import OrderReport
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.base import Venue

D = Decimal
SYMBOL = "BTC/USDT"


@dataclass
class StubOrder:
    cid: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal | None
    status: OrderStatus = OrderStatus.ACCEPTED
    filled: Decimal = Decimal(0)
    vid: str = ""


class StubVenue(Venue):
    """An in-memory venue whose calls raise AmbiguousVenueError on demand.

    Counters say how many of the next calls fail: `drop_submit` executes the order, then raises
    (the answer is lost); `fail_submit` raises before executing; `drop_cancel` cancels, then
    raises; `fail_cancel` raises without cancelling; `fail_queries` makes `fetch_order` raise;
    `fail_open_orders` makes `fetch_open_orders` raise.
    """

    def __init__(self, name: str = "stub", balances: dict[str, Decimal] | None = None) -> None:
        super().__init__(name)
        self.orders: dict[str, StubOrder] = {}
        self.fills: list[Fill] = []
        self.balances: dict[str, Decimal] = dict(balances or {"USDT": D(10_000), "BTC": D(1)})
        self.drop_submit = 0
        self.fail_submit = 0
        self.drop_cancel = 0
        self.fail_cancel = 0
        self.fail_queries = 0
        self.fail_open_orders = 0
        self.submits: list[str] = []
        self.queries = 0
        self.open_order_calls = 0
        self._trade_seq = 0
        self.now_ms = 1_000_000

    async def load_instruments(self) -> dict[str, Instrument]:
        return {SYMBOL: instrument(self.name)}

    async def submit(self, order: Order) -> OrderReport:
        self.submits.append(order.client_order_id)
        if self.fail_submit:
            self.fail_submit -= 1
            raise AmbiguousVenueError(self.name, "submit timed out", "TIMEOUT")
        self.orders[order.client_order_id] = StubOrder(
            order.client_order_id,
            order.symbol,
            order.side.value,
            order.amount,
            order.price,
            vid=f"v{len(self.orders) + 1}",
        )
        if self.drop_submit:
            self.drop_submit -= 1
            raise AmbiguousVenueError(self.name, "connection reset after send", "NETWORK")
        return self.report(order.client_order_id)

    async def cancel(self, order: Order) -> OrderReport:
        if self.fail_cancel:
            self.fail_cancel -= 1
            raise AmbiguousVenueError(self.name, "cancel timed out", "TIMEOUT")
        o = self.orders.get(order.client_order_id)
        if o is None or o.status.is_terminal:
            raise DefinitiveVenueError(self.name, "Unknown order sent.", "ORDER_NOT_FOUND")
        o.status = OrderStatus.CANCELLED
        if self.drop_cancel:
            self.drop_cancel -= 1
            raise AmbiguousVenueError(self.name, "connection reset after cancel", "NETWORK")
        return self.report(order.client_order_id)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        self.queries += 1
        if self.fail_queries:
            self.fail_queries -= 1
            raise AmbiguousVenueError(self.name, "query timed out", "TIMEOUT")
        if client_order_id not in self.orders:
            return None
        return self.report(client_order_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        self.open_order_calls += 1
        if self.fail_open_orders:
            self.fail_open_orders -= 1
            raise AmbiguousVenueError(
                self.name, "503 Service Unavailable", "EXCHANGE_NOT_AVAILABLE"
            )
        return [
            self.report(o.cid)
            for o in self.orders.values()
            if not o.status.is_terminal and symbol in (None, o.symbol)
        ]

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        return [f for f in self.fills if f.symbol == symbol and f.ts >= since_ts]

    async def fetch_balances(self) -> list[Balance]:
        return [Balance(self.name, a, q) for a, q in self.balances.items() if q]

    # venue-side actions ------------------------------------------------------------------------
    def report(self, cid: str) -> OrderReport:
        o = self.orders[cid]
        return OrderReport(
            self.name,
            o.symbol,
            cid,
            o.vid,
            o.status,
            filled=o.filled,
            amount=o.amount,
            side=o.side,
            price=o.price,
            ts=self.now_ms,
        )

    def execute(self, cid: str, amount: Decimal, price: Decimal, push: bool = True) -> Fill:
        """Fill `amount` of an order on the venue; `push=False` keeps the listener unaware."""
        o = self.orders[cid]
        o.filled += amount
        o.status = OrderStatus.FILLED if o.filled == o.amount else OrderStatus.PARTIALLY_FILLED
        self._trade_seq += 1
        self.now_ms += 1
        fill = Fill(
            self.name, o.symbol, cid, o.vid, f"t{self._trade_seq}", Side(o.side), price, amount,
            D(0), "USDT", LiquiditySide.TAKER, self.now_ms,
        )  # fmt: skip
        self.fills.append(fill)
        base_delta = amount if o.side == "buy" else -amount
        self.balances["BTC"] = self.balances.get("BTC", D(0)) + base_delta
        self.balances["USDT"] = self.balances.get("USDT", D(0)) - base_delta * price
        if push and self._listener is not None:
            self._listener.on_fill(fill)
            self._listener.on_order_report(self.report(cid))
        return fill

    def place_external(self, cid: str, side: str, amount: Decimal, price: Decimal) -> None:
        """An order placed on the account by someone else (never journaled by the node)."""
        self.orders[cid] = StubOrder(cid, SYMBOL, side, amount, price, vid=f"x{len(self.orders)}")


class ApproveAll:
    """A risk gate that approves every intent and records venue errors."""

    state = TradingState.ACTIVE
    state_by = ""

    def __init__(self) -> None:
        self.venue_errors: list[str] = []
        self.refusals: list[str] = []
        self.halts: list[str] = []

    def check(self, intent: OrderIntent, portfolio: Any, market: Any) -> Any:
        return _Approved()

    def observe_fill(self, fill: Fill, closed: Any, strategy_id: str | None = None) -> None:
        pass

    def observe_venue_error(self, venue: str, ts: int, error: str) -> None:
        self.venue_errors.append(error)

    def observe_venue_ok(self, venue: str, ts: int) -> None:
        pass

    def observe_venue_refusal(self, venue: str, ts: int, code: str, error: str) -> None:
        self.refusals.append(code)

    def halt(self, reason: str, by: str) -> None:
        self.state, self.state_by = TradingState.HALTED, by
        self.halts.append(reason)

    def resume(self, by: str, reason: str) -> None:
        self.state, self.state_by = TradingState.ACTIVE, by

    def lift_own_halt(self, by: str, reason: str) -> None:
        self.resume(by, reason)


class _Approved:
    approved = True
    code = ""
    reason = ""
    price_bound = None


class SettableClock(Clock):
    def __init__(self, ms: int = 1_000_000) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def instrument(venue: str) -> Instrument:
    return Instrument(
        venue=venue, symbol=SYMBOL, base="BTC", quote="USDT", price_tick=D("0.01"),
        amount_step=D("0.00001"), min_amount=D("0.00001"), min_notional=D("5"),
    )  # fmt: skip


@dataclass
class _Config:
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)


@dataclass
class _Strategy:
    id: str
    venue: str
    symbol: str


@dataclass
class Rig:
    """What reconciliation reads from a node: storage, venues, orders, portfolio, risk, bus."""

    storage: Storage
    venues: dict[str, Venue]
    orders: OrderManager
    portfolio: Portfolio
    market: MarketState
    risk: ApproveAll
    bus: EventBus
    clock: SettableClock
    config: _Config
    strategies: list[_Strategy]
    events: list[Event]
    db: Database

    @property
    def venue(self) -> StubVenue:
        v = self.venues["stub"]
        assert isinstance(v, StubVenue)
        return v

    def invalidate_equity(self) -> None:
        """A node drops its cached equity here; this rig keeps none."""

    def restart(self) -> Rig:
        """A fresh order manager on the same database and venue, as after a crash."""
        rig = make_rig(None, venue=self.venue, db=self.db, clock=self.clock)
        rig.orders.restore(rig.storage.load_orders(open_only=True))
        for b in rig.storage.load_balances():
            rig.portfolio.book(b.venue).set(b.asset, b.free, b.locked)
        return rig


def make_rig(
    tmp: Path | None,
    *,
    venue: StubVenue | None = None,
    db: Database | None = None,
    clock: SettableClock | None = None,
    external_orders: str = "adopt",
) -> Rig:
    if db is None:
        assert tmp is not None
        db = Database(f"sqlite:///{tmp / 'exec.db'}")
        db.migrate()
    storage = Storage(db)
    venue = venue or StubVenue()
    clock = clock or SettableClock()
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    market = MarketState()
    market.add_instrument(instrument(venue.name))
    market.on_quote(Quote(SYMBOL, clock.now_ms(), D("49990"), D(1), D("50010"), D(1)))
    portfolio = Portfolio("USDT")
    risk = ApproveAll()
    venues: dict[str, Venue] = {venue.name: venue}
    om = OrderManager(
        storage=storage, venues=venues, risk=risk, portfolio=portfolio, market=market, bus=bus,
        clock=clock, resolve_attempts=3, resolve_delay_s=0.001, not_found_grace_s=0,
    )  # fmt: skip
    cfg = _Config(ReconcileConfig(external_orders=external_orders))  # type: ignore[arg-type]
    return Rig(
        storage, venues, om, portfolio, market, risk, bus, clock, cfg,
        [_Strategy("s1", venue.name, SYMBOL)], events, db,
    )  # fmt: skip


def limit_buy(amount: str = "0.001", price: str = "49000", strategy: str = "s1") -> OrderIntent:
    return OrderIntent(
        strategy_id=strategy, venue="stub", symbol=SYMBOL, side=Side.BUY, amount=D(amount),
        type=OrderType.LIMIT, price=D(price),
    )  # fmt: skip
