"""Time `RiskEngine.check` with every rule on against a portfolio of 50 positions; print JSON."""

from __future__ import annotations

import json
import platform
import statistics
import time
from decimal import Decimal

from tradeguard.clock import SimulatedClock
from tradeguard.model import Event, Instrument, Order, OrderIntent, OrderType, Position, Side
from tradeguard.risk import MemoryStateStore, RiskConfig, RiskEngine

D = Decimal
T0 = 1_700_000_000_000
N_POSITIONS = 50
WARMUP = 2_000
CHECKS = 20_000
STEP_MS = 25  # 40 orders/s, under max_orders_per_s=50


class Portfolio:
    """A ready-made portfolio view: 50 positions with stops, USDT cash, cached equity."""

    def __init__(self, symbols: list[str], mids: dict[str, Decimal]) -> None:
        self.positions = [
            Position("paper", sym, f"strat{i}", quantity=D("0.5"), avg_entry=mids[sym],
                     stop_loss=mids[sym] * D("0.95"))
            for i, sym in enumerate(symbols)
        ]  # fmt: skip
        self.cash = D(900_000)
        self._equity = self.cash + sum((p.quantity * mids[p.symbol] for p in self.positions), D(0))
        self._net = {(p.venue, p.symbol): p.quantity for p in self.positions}

    def equity(self) -> Decimal:
        return self._equity

    def open_positions(self) -> list[Position]:
        return self.positions

    def net_quantity(self, venue: str, symbol: str) -> Decimal:
        return self._net.get((venue, symbol), D(0))

    def position(self, venue: str, symbol: str, strategy_id: str = "") -> Position:
        return Position(venue, symbol, strategy_id)

    def stable_value(self) -> Decimal:
        return self.cash

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None:
        return D(1)

    def open_orders(self) -> list[Order]:
        return []


class Market:
    def __init__(self, mids: dict[str, Decimal], instruments: dict[str, Instrument]) -> None:
        self.mids = mids
        self.instruments = instruments
        self.updated = dict.fromkeys(mids, T0)

    def mid(self, symbol: str, venue: str | None = None) -> Decimal | None:
        return self.mids.get(symbol)

    def last_update_ms(self, symbol: str, venue: str | None = None) -> int | None:
        return self.updated.get(symbol)

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol)


def main() -> None:
    symbols = [f"C{i:02d}/USDT" for i in range(N_POSITIONS)] + ["BTC/USDT"]
    mids = {s: D(100) + i for i, s in enumerate(symbols)}
    instruments = {
        s: Instrument("paper", s, s.split("/")[0], "USDT", D("0.01"), D("0.0001"), D("0.0001"),
                      D(5))
        for s in symbols
    }  # fmt: skip
    market = Market(mids, instruments)
    portfolio = Portfolio(symbols[:N_POSITIONS], mids)
    # Every rule on; limits set so the benchmark's orders pass and every rule is evaluated.
    config = RiskConfig(
        max_open_positions=100, max_trades_per_day=1_000_000, max_orders_per_s=D(50),
        cooldown_after_trade_s=60, cooldown_after_loss_s=300, one_position_per_strategy=True,
        max_portfolio_heat_pct=D(30), daily_loss_limit_usd=D(5000),
    )  # fmt: skip
    clock = SimulatedClock(T0)
    events: list[Event] = []
    engine = RiskEngine(config, clock, MemoryStateStore(), events.append)
    engine.observe_equity(T0, portfolio.equity())
    for i in range(5):  # some live cooldowns and a venue breaker with recent errors
        engine.cooldowns[(f"strat{i}", symbols[i])] = T0 + 10**9
    engine.observe_venue_error("paper", T0, "timeout")
    bid = mids["BTC/USDT"]
    intents = [
        OrderIntent(f"bench{i % 7}", "paper", "BTC/USDT", Side.BUY, D("0.5"), OrderType.LIMIT,
                    bid - D("0.05") * (i % 5), stop_loss=bid * D("0.98"))
        for i in range(16)
    ] + [
        OrderIntent("bench9", "paper", "BTC/USDT", Side.BUY, D("0.5"), OrderType.MARKET,
                    stop_loss=bid * D("0.98"))
    ]  # fmt: skip
    samples: list[int] = []
    approved = 0
    now = T0
    perf = time.perf_counter_ns
    for n in range(WARMUP + CHECKS):
        now += STEP_MS
        clock.advance_to(now)
        market.updated["BTC/USDT"] = now
        intent = intents[n % len(intents)]
        if n % 100 == 0:
            engine.invalidate_exposure()  # as a fill or mark update would
            events.clear()
        t0 = perf()
        decision = engine.check(intent, portfolio, market)
        t1 = perf()
        if n >= WARMUP:
            samples.append(t1 - t0)
            approved += decision.approved
    samples.sort()
    us = [s / 1000 for s in samples]
    p50 = round(us[len(us) // 2], 2)
    p99 = round(us[int(len(us) * 0.99)], 2)
    result: dict[str, object] = {
        "benchmark": "risk_check",
        "positions": N_POSITIONS,
        "checks": CHECKS,
        "approved": approved,
        "p50_us": p50,
        "p99_us": p99,
        "mean_us": round(statistics.fmean(us), 2),
        "max_us": round(us[-1], 2),
        "targets": {"p50_us": 15, "p99_us": 50},
        "python": platform.python_version(),
    }
    result["meets_targets"] = p50 <= 15 and p99 <= 50
    print(json.dumps(result))


if __name__ == "__main__":
    main()
