"""In-memory portfolio and market views for the risk tests (hand-written, no mocks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.clock import SimulatedClock
from tradeguard.model import (
    ClosedTrade,
    Event,
    Fill,
    Instrument,
    LiquiditySide,
    Order,
    OrderIntent,
    OrderType,
    Position,
    Side,
)
from tradeguard.model.money import ZERO
from tradeguard.risk import MemoryStateStore, RiskConfig, RiskEngine

D = Decimal
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
DAY_MS = 86_400_000
STABLES = {"USDT", "USDC", "USD"}


class Book:
    """Cash in USDT plus positions marked at the market's mid; equity = cash + Σ qty × mark."""

    def __init__(self, market: Market, cash: Decimal = D(10_000)) -> None:
        self.market = market
        self.cash = cash
        self.positions: dict[tuple[str, str, str], Position] = {}
        self.orders: list[Order] = []
        self._seq = 0

    def equity(self) -> Decimal:
        total = self.cash
        for p in self.positions.values():
            if p.quantity:
                total += p.quantity * (self.market.mid(p.symbol) or p.avg_entry)
        return total

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity != 0]

    def net_quantity(self, venue: str, symbol: str) -> Decimal:
        return sum(
            (p.quantity for (v, s, _), p in self.positions.items() if v == venue and s == symbol),
            ZERO,
        )

    def position(self, venue: str, symbol: str, strategy_id: str = "") -> Position:
        key = (venue, symbol, strategy_id)
        if key not in self.positions:
            self.positions[key] = Position(venue, symbol, strategy_id)
        return self.positions[key]

    def stable_value(self) -> Decimal:
        return self.cash

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None:
        if asset in STABLES:
            return D(1)
        return self.market.mid(f"{asset}/USDT")

    def price_on(
        self, venue: str, asset: str, in_asset: str | None = None, fresh: Any = None
    ) -> Decimal | None:
        return self.price_of(asset, in_asset)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders if o.is_open]

    def hold(
        self, symbol: str, qty: Decimal, price: Decimal, stop: Decimal | None = None,
        strategy_id: str = "s1", venue: str = "paper",
    ) -> Position:  # fmt: skip
        """Open a position as if bought at `price` (cash pays for it)."""
        pos = self.position(venue, symbol, strategy_id)
        pos.quantity = qty
        pos.avg_entry = price
        pos.stop_loss = stop
        self.cash -= qty * price
        return pos

    def fill(
        self, intent: OrderIntent, price: Decimal, ts: int, fee: Decimal = ZERO
    ) -> tuple[Fill, ClosedTrade | None]:
        """Fill an intent completely at `price`, moving cash and the position."""
        self._seq += 1
        f = Fill(
            venue=intent.venue, symbol=intent.symbol, client_order_id=f"c{self._seq}",
            venue_order_id=f"v{self._seq}", trade_id=f"t{self._seq}", side=intent.side,
            price=price, amount=intent.amount, fee=fee, fee_asset="USDT",
            liquidity=LiquiditySide.TAKER, ts=ts,
        )  # fmt: skip
        pos = self.position(intent.venue, intent.symbol, intent.strategy_id)
        was_flat = pos.quantity == 0
        closed = pos.apply(intent.side, price, intent.amount, fee, ts)
        if was_flat and pos.quantity != 0:
            pos.stop_loss = intent.stop_loss
        self.cash -= intent.side.sign * intent.amount * price + fee
        return f, closed


class Market:
    """Mids, last-update times and instrument rules per symbol."""

    def __init__(self) -> None:
        self.mids: dict[str, Decimal] = {}
        self.updated: dict[str, int] = {}
        self.instruments: dict[tuple[str, str], Instrument] = {}

    def set(self, symbol: str, mid: Decimal, ts: int, venue: str = "paper") -> None:
        self.mids[symbol] = mid
        self.updated[symbol] = ts
        if (venue, symbol) not in self.instruments:
            base, quote = symbol.split("/")
            self.instruments[(venue, symbol)] = Instrument(
                venue=venue, symbol=symbol, base=base, quote=quote, price_tick=D("0.01"),
                amount_step=D("0.0001"), min_amount=D("0.0001"), min_notional=D(5),
            )  # fmt: skip

    def mid(self, symbol: str, venue: str | None = None) -> Decimal | None:
        return self.mids.get(symbol)

    def last_update_ms(self, symbol: str, venue: str | None = None) -> int | None:
        return self.updated.get(symbol)

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get((venue, symbol))


class Rig:
    """An engine with a hand-driven clock, memory store, event list, book and market."""

    def __init__(self, cash: Decimal = D(10_000), store: MemoryStateStore | None = None,
                 **config: Any) -> None:  # fmt: skip
        self.clock = SimulatedClock(T0)
        self.store = store if store is not None else MemoryStateStore()
        self.events: list[Event] = []
        self.config = RiskConfig(**config)
        self.market = Market()
        self.market.set("BTC/USDT", D(100), T0)
        self.book = Book(self.market, cash)
        self.engine = RiskEngine(self.config, self.clock, self.store, self.events.append)

    def at(self, ts: int) -> None:
        """Move the clock and keep market data fresh."""
        self.clock.advance_to(ts)
        for symbol in self.market.updated:
            self.market.updated[symbol] = ts

    def check(self, intent: OrderIntent):  # type: ignore[no-untyped-def]
        return self.engine.check(intent, self.book, self.market)

    def restart(self) -> RiskEngine:
        """Build a new engine on the same store, as a restarted node would."""
        self.engine = RiskEngine(self.config, self.clock, self.store, self.events.append)
        return self.engine

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


def buy(
    amount: str | Decimal, price: str | Decimal | None = "100", symbol: str = "BTC/USDT",
    strategy_id: str = "s1", stop: str | None = None, reduce_only: bool = False, tag: str = "",
    side: Side = Side.BUY,
) -> OrderIntent:  # fmt: skip
    """Make a limit intent (market when price is None)."""
    return OrderIntent(
        strategy_id=strategy_id, venue="paper", symbol=symbol, side=side, amount=D(amount),
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        price=D(price) if price is not None else None,
        stop_loss=D(stop) if stop is not None else None, reduce_only=reduce_only, tag=tag,
    )  # fmt: skip


def sell(amount: str | Decimal, price: str | Decimal | None = "100", **kw: Any) -> OrderIntent:
    return buy(amount, price, side=Side.SELL, **kw)
