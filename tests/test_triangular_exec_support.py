"""A real paper stack for the triangular executor: order manager, risk engine, tmp SQLite.

Holds no tests; `test_triangular_exec*.py` import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.clock import SimulatedClock
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.state import MarketState
from tradeguard.model import Balance, Event, Instrument, dec
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.triangular import Opportunity, TriangularScanner
from tradeguard.strategies.triangular.executor import TriangularExecConfig, TriangularExecutor
from tradeguard.strategies.triangular.universe import Universe, generate_universe
from tradeguard.venues.paper import PaperVenue

START_MS = 1_700_000_000_000
VENUE = "paper"
# Seed 6 holds USDT -> ETH -> A0009 -> USDT: buy, buy, sell, about +0.85% after fees.
CYCLE = ("ETH/USDT", "A0009/ETH", "A0009/USDT")

# Real limits, opened up only where a three-leg cycle on a 100k account needs room.
PERMISSIVE_RISK: dict[str, Any] = {
    "max_order_notional_usd": Decimal(10_000),
    "max_trades_per_day": 1_000,
    "max_orders_per_s": Decimal(50),
    "max_open_positions": 100,
    "cooldown_after_loss_s": 0,
    "max_consecutive_losses": 1000,
    "arb_max_cycle_notional_usd": Decimal(5_000),
}

Level = Sequence[Sequence[Any]]


def small_universe(*, delist: Sequence[str] = ()) -> Universe:
    """Return the seeded 30-asset, 70-market venue the tests trade on, less `delist`."""
    universe = generate_universe(30, 70, 5, seed=6, dislocated_share=0.15)
    universe.markets = [m for m in universe.markets if m.symbol not in delist]
    universe.tickers = {s: t for s, t in universe.tickers.items() if s not in delist}
    return universe


def instruments_for(universe: Universe) -> dict[str, Instrument]:
    """Return paper instruments with each market's precision, minimums and taker fee."""
    return {
        m.symbol: Instrument(
            venue=VENUE,
            symbol=m.symbol,
            base=m.base,
            quote=m.quote,
            price_tick=m.price_tick,
            amount_step=m.amount_step,
            min_amount=m.min_amount,
            min_notional=m.min_notional,
            maker_fee=m.taker_fee,
            taker_fee=m.taker_fee,
        )
        for m in universe.markets
    }


class Stack:
    """Clock, storage, portfolio, risk, paper venue and order manager, wired as the node does."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        risk: dict[str, Any] | None = None,
        exec_config: dict[str, Any] | None = None,
        usdt: Decimal = Decimal(100_000),
        universe: Universe | None = None,
    ) -> None:
        self.universe = universe or small_universe()
        self.clock = SimulatedClock(START_MS)
        db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
        db.migrate()
        self.storage = Storage(db)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        self.market = MarketState()
        self.portfolio = Portfolio("USDT")
        self.portfolio.set_balances(VENUE, [Balance(VENUE, "USDT", usdt)])
        self.risk = RiskEngine(
            RiskConfig(**{**PERMISSIVE_RISK, **(risk or {})}),
            self.clock,
            MemoryStateStore(),
            self.bus.publish,
        )
        self.instruments = instruments_for(self.universe)
        for inst in self.instruments.values():
            self.market.add_instrument(inst)
        self.venue = PaperVenue(VENUE, self.instruments, {"USDT": usdt}, self.clock)
        self.orders = OrderManager(
            storage=self.storage,
            venues={VENUE: self.venue},
            risk=self.risk,
            portfolio=self.portfolio,
            market=self.market,
            bus=self.bus,
            clock=self.clock,
        )
        self.config = TriangularExecConfig(**{"start_assets": ("USDT",), **(exec_config or {})})
        self.gateway = OrderPathGateway(self.orders, self.risk, VENUE, self.config.strategy_id)
        self.executor = TriangularExecutor(self.gateway, self.config)
        for symbol in self.universe.tickers:
            bids, asks = self.universe.book(symbol)
            self.feed(symbol, bids, asks)

    def feed(
        self, symbol: str, bids: Level, asks: Level, *, venue: bool = True, state: bool = True
    ) -> None:
        """Publish a book now: to the paper venue, the market state and the marks."""
        book = OrderBook(symbol)
        book.apply_snapshot(
            [(dec(p), dec(q)) for p, q in bids],
            [(dec(p), dec(q)) for p, q in asks],
            self.clock.now_ms(),
        )
        if venue:
            self.venue.on_book(book)
        if state:
            self.market.on_book(book)
            mid = book.mid()
            if mid is not None:
                self.portfolio.marks[symbol] = mid

    def scanner(self, max_cycle: int = 3) -> TriangularScanner:
        """Return a scanner over the universe, loaded with its tickers."""
        scanner = TriangularScanner(self.universe.markets, max_cycle=max_cycle)
        scanner.load_tickers(self.universe.tickers)
        return scanner

    def depth(self) -> dict[str, tuple[Level, Level]]:
        """Return every market's book as the scanner sizes from it."""
        return {s: self.universe.book(s) for s in self.universe.tickers}

    def opportunity(self, symbols: Sequence[str] = CYCLE) -> Opportunity:
        """Return the scanned cycle through `symbols` in that order, starting from USDT."""
        scanner = self.scanner(max_cycle=max(3, len(symbols)))
        for cycle_id in scanner.top_ids(scanner.n_cycles):
            opp = scanner.opportunity(int(cycle_id), depth=self.depth(), prefer_start=["USDT"])
            if tuple(leg.symbol for leg in opp.legs) == tuple(symbols):
                return opp
        raise AssertionError(f"no quoted cycle through {symbols}")

    async def venue_balance(self, asset: str) -> Decimal:
        """Return the paper venue's total balance of `asset`."""
        for b in await self.venue.fetch_balances():
            if b.asset == asset:
                return b.total
        return Decimal(0)

    def advance(self, ms: int) -> None:
        """Move the clock on and republish every book so the data stays fresh."""
        self.clock.advance_to(self.clock.now_ms() + ms)
        for symbol in self.universe.tickers:
            bids, asks = self.universe.book(symbol)
            self.feed(symbol, bids, asks)
