"""Triangular executor speed: its own overhead and latency per cycle, on paper and on the sandbox.

Run: .venv/bin/python benchmarks/triangular_exec.py [--paper 200] [--sandbox 50] [--updates N]
Prints one JSON object, every figure as p50/p99/max over the cycles (or updates):

- `paper`: the USDT -> ETH -> A0009 -> USDT cycle of the test venue, 1,000 USDT a cycle, through
  the real order manager, risk engine, SQLite journal and paper venue.
- `sandbox`: the same cycle through the real ccxt client to the local Binance-compatible sandbox
  on 127.0.0.1 (REST orders, websocket user stream).

Per cycle:
- `decision_to_order_path_ms`: `execute()` entry to the first leg handed to the order path (the
  executor's pre-checks, the cycle's risk check and the first leg's pricing).
- `decision_to_venue_ms`: `execute()` entry to the first leg reaching `Venue.submit` (adds the
  leg's own risk check and the journal commit); on the sandbox `decision_to_wire_ms` goes on to
  the moment ccxt hands `POST /order` to aiohttp.
- `leg_roundtrip_ms`: each leg from the order path's submit to its terminal status.
- `cycle_ms`: `execute()` entry until the record is complete; `execute_call_ms` adds writing the
  `arb_executions` row and the events.
- `executor_overhead_ms`: `cycle_ms` minus the legs' round trips: the executor's own work.

`scanner`: rescore -> pick on generated venues, per ticker update: `update_ticker` then
`top_ids(10, min_profit_pct=0.5)` (the runner's pick), and with the best cycle sized
(`opportunity`, Decimal) on top; `first_pick_ms` is the first `top_ids` after a full rescan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tradeguard.bus import EventBus
from tradeguard.clock import Clock, SimulatedClock
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.state import MarketState
from tradeguard.model import Balance, Instrument, Order, Quote, dec
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.triangular import Ticker, TriangularScanner
from tradeguard.strategies.triangular.executor import (
    ArbExecution,
    TriangularExecConfig,
    TriangularExecutor,
)
from tradeguard.strategies.triangular.markets import ArbMarket
from tradeguard.strategies.triangular.opportunity import Opportunity
from tradeguard.strategies.triangular.universe import Universe, generate_universe
from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory
from tradeguard.venues.paper import PaperVenue

CYCLE = ("ETH/USDT", "A0009/ETH", "A0009/USDT")  # profitable on the seed-6 venue, ~+0.85%
SIZE = Decimal(1000)
UNIVERSES = ((400, 1_500), (800, 3_000))
RISK: dict[str, Any] = {
    "max_order_notional_usd": Decimal(10_000),
    "max_order_notional_pct": Decimal(50),
    "min_order_notional_usd": Decimal(0),
    "price_band_pct": Decimal(10),
    "max_portfolio_heat_pct": Decimal(60),
    "max_open_positions": 1_000,
    "min_account_balance_usd": Decimal(0),
    "stable_reserve_pct": Decimal(0),
    "max_trades_per_day": 1_000_000,
    "max_orders_per_s": Decimal(1_000),
    "cooldown_after_loss_s": 0,
    "max_consecutive_losses": 1_000,
    "venue_error_threshold": 1_000,
    "arb_max_cycle_notional_usd": Decimal(5_000),
    # Cycles back to back send more than the built-in 50 orders/s ceiling allows.
    "ceiling_override_ack": "I accept losses beyond the built-in ceilings",
}
Book = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]
WARM_UP = 200  # scanner updates run before the ones measured


def _pcts(samples: Sequence[float], digits: int = 3) -> dict[str, float]:
    a = np.asarray(samples, dtype=float)
    return {
        "p50": round(float(np.percentile(a, 50)), digits),
        "p99": round(float(np.percentile(a, 99)), digits),
        "max": round(float(a.max()), digits),
        "n": len(a),
    }


def _test_venue() -> Universe:
    return generate_universe(30, 70, 5, seed=6, dislocated_share=0.15)


def _on_grid(value: float, step: Decimal, up: bool) -> Decimal:
    return (dec(value) / step).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR) * step


class _Timings:
    """Per-cycle figures gathered from the records and the venue-side stamps."""

    def __init__(self) -> None:
        self.to_path: list[float] = []
        self.to_venue: list[float] = []
        self.to_wire: list[float] = []
        self.legs: list[float] = []
        self.cycle: list[float] = []
        self.call: list[float] = []
        self.overhead: list[float] = []
        self.outcomes: dict[str, int] = {}

    def add(self, rec: ArbExecution, called: float, returned: float, venue_at: float) -> None:
        self.outcomes[rec.outcome] = self.outcomes.get(rec.outcome, 0) + 1
        self.to_path.append(rec.first_order_ms)
        self.to_venue.append((venue_at - called) * 1000)
        legs = [leg.latency_ms for leg in rec.legs]
        self.legs.extend(legs)
        self.cycle.append(rec.latency_ms)
        self.call.append((returned - called) * 1000)
        self.overhead.append(rec.latency_ms - sum(legs))

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cycles": len(self.cycle),
            "outcomes": self.outcomes,
            "decision_to_order_path_ms": _pcts(self.to_path),
            "decision_to_venue_ms": _pcts(self.to_venue),
        }
        if self.to_wire:
            out["decision_to_wire_ms"] = _pcts(self.to_wire)
        out |= {
            "leg_roundtrip_ms": _pcts(self.legs),
            "cycle_ms": _pcts(self.cycle),
            "execute_call_ms": _pcts(self.call),
            "executor_overhead_ms": _pcts(self.overhead),
        }
        return out


# -- paper -------------------------------------------------------------------------------------
async def bench_paper(cycles: int, tmp: Path) -> dict[str, Any]:
    universe = _test_venue()
    clock = SimulatedClock(1_700_000_000_000)
    db = Database(f"sqlite:///{tmp / 'paper.db'}")
    db.migrate()
    storage = Storage(db)
    bus = EventBus()
    market = MarketState()
    portfolio = Portfolio("USDT")
    usdt = Decimal(10_000_000)
    portfolio.set_balances("paper", [Balance("paper", "USDT", usdt)])
    risk = RiskEngine(RiskConfig(**RISK), clock, MemoryStateStore(), bus.publish)
    instruments = {
        m.symbol: Instrument("paper", m.symbol, m.base, m.quote, m.price_tick, m.amount_step,
                             m.min_amount, m.min_notional, m.taker_fee, m.taker_fee)
        for m in universe.markets
    }  # fmt: skip
    for inst in instruments.values():
        market.add_instrument(inst)
    venue = PaperVenue("paper", instruments, {"USDT": usdt}, clock)
    orders = OrderManager(storage=storage, venues={"paper": venue}, risk=risk,
                          portfolio=portfolio, market=market, bus=bus, clock=clock)  # fmt: skip
    config = TriangularExecConfig(start_assets=("USDT",))
    executor = TriangularExecutor(
        OrderPathGateway(orders, risk, "paper", config.strategy_id), config
    )
    venue_at = _stamp_submits(venue)

    def feed_all() -> None:
        for symbol in universe.tickers:
            bids, asks = universe.book(symbol)
            book = OrderBook(symbol)
            book.apply_snapshot([(dec(p), dec(q)) for p, q in bids],
                                [(dec(p), dec(q)) for p, q in asks], clock.now_ms())  # fmt: skip
            venue.on_book(book)
            market.on_book(book)
            mid = book.mid()
            if mid is not None:
                portfolio.marks[symbol] = mid

    feed_all()
    opp = _opportunity(universe.markets, {s: universe.book(s) for s in universe.tickers})
    timings = _Timings()
    for _ in range(cycles):
        clock.advance_to(clock.now_ms() + 1_000)
        feed_all()  # fresh books: the paper venue remembers liquidity taken from a snapshot
        venue_at.clear()
        called = time.perf_counter()
        rec = await executor.execute(opp, SIZE)
        timings.add(rec, called, time.perf_counter(), venue_at[0] if venue_at else called)
    db.dispose()
    return timings.report()


def _stamp_submits(venue: Any) -> list[float]:
    """Stamp `perf_counter` each time the order path hands an order to the venue."""
    stamps: list[float] = []
    original = venue.submit

    async def stamped(order: Order) -> Any:
        stamps.append(time.perf_counter())
        return await original(order)

    venue.submit = stamped
    return stamps


def _opportunity(markets: Sequence[ArbMarket], books: dict[str, Any]) -> Opportunity:
    scanner = TriangularScanner(markets)
    scanner.load_tickers(
        {
            s: Ticker(s, float(b[0][0]), float(a[0][0]), float(b[0][1]), float(a[0][1]))
            for s, (b, a) in books.items()
        }
    )
    for cycle_id in scanner.top_ids(scanner.n_cycles):
        opp = scanner.opportunity(int(cycle_id), depth=books, prefer_start=["USDT"])
        if tuple(leg.symbol for leg in opp.legs) == CYCLE:
            return opp
    raise RuntimeError(f"no quoted cycle through {CYCLE}")


# -- sandbox -----------------------------------------------------------------------------------
async def bench_sandbox(cycles: int, tmp: Path) -> dict[str, Any]:
    universe = _test_venue()
    # Binance's wire carries 8 decimals, so no tick finer than 1e-8 can be listed there.
    markets = [
        replace(m, price_tick=max(m.price_tick, Decimal("1e-8")))
        for m in universe.markets
        if m.symbol in CYCLE
    ]
    books: dict[str, Book] = {}
    ex = SandboxExchange()
    for m in markets:
        ex.add_market(m.symbol, m.base, m.quote, m.price_tick, m.amount_step, m.min_amount,
                      m.min_notional, m.taker_fee, m.taker_fee)  # fmt: skip
        raw_bids, raw_asks = universe.book(m.symbol, 3)
        books[m.symbol] = (
            [(_on_grid(p, m.price_tick, False), _on_grid(q, m.amount_step, False))
             for p, q in raw_bids],
            [(_on_grid(p, m.price_tick, True), _on_grid(q, m.amount_step, False))
             for p, q in raw_asks],
        )  # fmt: skip
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal(1_000_000)})
    async with ex:
        factory = ccxt_client_factory(
            "binance",
            {"apiKey": ALICE_KEY, "secret": ALICE_SECRET},
            rest_url=ex.rest_url,
            ws_url=ex.ws_url,
            timeout_ms=2000,
        )
        clock = Clock()
        venue = CcxtVenue("sbx", factory, clock, rate_limit_per_minute=1_000_000)
        db = Database(f"sqlite:///{tmp / 'sandbox.db'}")
        db.migrate()
        storage = Storage(db)
        bus = EventBus()
        market = MarketState()
        portfolio = Portfolio("USDT")
        risk = RiskEngine(RiskConfig(**RISK), clock, MemoryStateStore(), bus.publish)
        orders = OrderManager(storage=storage, venues={"sbx": venue}, risk=risk,
                              portfolio=portfolio, market=market, bus=bus, clock=clock,
                              resolve_delay_s=0.05)  # fmt: skip
        await venue.connect()
        try:
            for inst in venue.instruments.values():
                market.add_instrument(inst)
            portfolio.set_balances("sbx", await venue.fetch_balances())
            await eventually(lambda: f"user:{ex.account_id(ALICE_KEY)}" in ex.ws_subscriptions())
            wire_at = _stamp_order_posts(venue)
            venue_at = _stamp_submits(venue)
            config = TriangularExecConfig(fees_charged_in="received", start_assets=("USDT",))
            gateway = OrderPathGateway(orders, risk, "sbx", config.strategy_id)
            executor = TriangularExecutor(gateway, config)
            opp = _opportunity(markets, books)
            timings = _Timings()
            for _ in range(cycles):
                for symbol, (bids, asks) in books.items():
                    ex.set_book(symbol, bids, asks)  # the house maker's quotes, refilled
                    market.on_quote(Quote(symbol, clock.now_ms(), bids[0][0], bids[0][1],
                                          asks[0][0], asks[0][1]))  # fmt: skip
                    portfolio.mark(symbol, (bids[0][0] + asks[0][0]) / 2)
                venue_at.clear()
                wire_at.clear()
                called = time.perf_counter()
                rec = await executor.execute(opp, SIZE)
                returned = time.perf_counter()
                timings.add(rec, called, returned, venue_at[0] if venue_at else called)
                if wire_at:
                    timings.to_wire.append((wire_at[0] - called) * 1000)
        finally:
            await venue.close()
            db.dispose()
    return timings.report()


def _stamp_order_posts(venue: CcxtVenue) -> list[float]:
    """Stamp `perf_counter` when ccxt hands a `POST .../order` to aiohttp."""
    stamps: list[float] = []
    original = venue.client.fetch

    async def stamped(url: str, method: str = "GET", *args: Any, **kw: Any) -> Any:
        if method == "POST" and url.split("?")[0].endswith("/order"):
            stamps.append(time.perf_counter())
        return await original(url, method, *args, **kw)

    venue.client.fetch = stamped
    return stamps


# -- scanner -----------------------------------------------------------------------------------
def bench_scanner(updates: int) -> list[dict[str, Any]]:
    cases = []
    for n_assets, n_markets in UNIVERSES:
        universe = generate_universe(n_assets, n_markets, seed=7)
        for max_cycle in (3, 4):
            scanner = TriangularScanner(universe.markets, max_cycle=max_cycle)
            scanner.load_tickers(universe.tickers)
            t0 = time.perf_counter()
            scanner.top_ids(10, min_profit_pct=0.5)
            first_ms = (time.perf_counter() - t0) * 1000
            rng = np.random.default_rng(11)
            ticks = [universe.next_tick(rng) for _ in range(updates)]
            pick, sized = np.empty(updates), np.empty(updates)
            clock = time.perf_counter_ns
            for i, t in enumerate(ticks):
                t0 = clock()
                scanner.update_ticker(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
                ids = scanner.top_ids(10, min_profit_pct=0.5)
                t1 = clock()
                if len(ids):
                    scanner.opportunity(int(ids[0]), prefer_start=("USDT",))
                t2 = clock()
                pick[i], sized[i] = (t1 - t0) / 1e3, (t2 - t0) / 1e3
            cases.append(
                {
                    "assets": n_assets,
                    "markets": n_markets,
                    "max_cycle": max_cycle,
                    "cycles_indexed": scanner.n_cycles,
                    "first_pick_ms": round(first_ms, 3),
                    "rescore_pick_us": _pcts(pick[WARM_UP:], 2),
                    "rescore_pick_size_us": _pcts(sized[WARM_UP:], 2),
                }
            )
    return cases


async def run(paper: int, sandbox: int, updates: int) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        paper_figures = await bench_paper(paper, Path(tmp))
        sandbox_figures = await bench_sandbox(sandbox, Path(tmp)) if sandbox else None
    return {
        "benchmark": "triangular_exec",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cycle": " -> ".join(CYCLE),
        "size_usdt": str(SIZE),
        "paper": paper_figures,
        "sandbox": sandbox_figures,
        "scanner": bench_scanner(updates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--paper", type=int, default=200, help="cycles on the paper venue")
    parser.add_argument("--sandbox", type=int, default=50, help="cycles on the sandbox (0: skip)")
    parser.add_argument("--updates", type=int, default=5_000, help="ticker updates per case")
    args = parser.parse_args()
    # The figures are percentiles: no sample is no figure (the scanner's first 200 updates
    # warm it up and are not counted).
    for flag, value, least in (
        ("--paper", args.paper, 1),
        ("--sandbox", args.sandbox, 0),
        ("--updates", args.updates, WARM_UP + 1),
    ):
        if value < least:
            parser.error(f"{flag} {value}: must be at least {least}")
    print(json.dumps(asyncio.run(run(args.paper, args.sandbox, args.updates)), indent=2))


if __name__ == "__main__":
    main()
