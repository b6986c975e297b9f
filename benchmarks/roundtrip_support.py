"""The order-manager rig the round-trip benchmarks share: an OrderManager over one venue with a
throwaway SQLite journal and a risk engine that lets every bench order through, and the
percentile figures they print."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.state import MarketState
from tradeguard.model import OrderIntent
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def pcts(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return {
        "p50": round(q[49] * 1000, 3),
        "p99": round(q[98] * 1000, 3),
        "max": round(s[-1] * 1000, 3),
        "n": len(s),
    }


@dataclass
class Rig:
    om: OrderManager
    market: MarketState
    portfolio: Portfolio
    clock: Clock


@asynccontextmanager
async def order_manager_rig(
    venue: Any, venue_id: str, currency: str, **risk: Any
) -> AsyncIterator[Rig]:
    """`risk`: RiskConfig fields beyond the bench's lifted limits (e.g. a wider price band)."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        clock = Clock()
        market = MarketState()
        for inst in venue.instruments.values():
            market.add_instrument(inst)
        portfolio = Portfolio(currency)
        portfolio.set_balances(venue_id, await venue.fetch_balances())
        bus = EventBus()
        engine = RiskEngine(
            RiskConfig(max_trades_per_day=1_000_000, max_orders_per_s=Decimal(1000),
                       ceiling_override_ack="I accept losses beyond the built-in ceilings",
                       stable_reserve_pct=Decimal(0), min_order_notional_usd=Decimal(0), **risk),
            clock, MemoryStateStore(), bus.publish,
        )  # fmt: skip
        om = OrderManager(storage=Storage(db), venues={venue_id: venue}, risk=engine,
                          portfolio=portfolio, market=market, bus=bus, clock=clock)  # fmt: skip
        yield Rig(om, market, portfolio, clock)
        db.dispose()


async def submit_to_wire(
    om: OrderManager, intent: OrderIntent, sent_at: list[float], requests: int | None = None
) -> float:
    """Seconds from `OrderManager.submit` entry to the first order request stamped in `sent_at`;
    the order is cancelled afterwards. `requests`: how many order requests must go out (None:
    at least one)."""
    before = len(sent_at)
    t0 = time.perf_counter()
    result = await om.submit(intent)
    went = len(sent_at) - before
    if (went == requests if requests is not None else went > 0) and result.order is not None:
        await om.cancel(result.order.client_order_id)
        return sent_at[before] - t0
    raise RuntimeError(f"order did not go out: {result.status} {result.reason}")
