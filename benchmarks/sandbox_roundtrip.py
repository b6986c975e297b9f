"""Order round trips through the real ccxt client to the local sandbox, and the node's overhead.

Prints JSON with two figures:

- `roundtrip_ms`: `CcxtVenue.submit` of a limit order placed away from the market until the
  exchange's acknowledgement is parsed (ccxt -> sandbox over 127.0.0.1 -> ack), p50 and p99;
  each order is cancelled afterwards (cancel time not counted).
- `overhead_ms`: the node's own time from `OrderManager.submit` entry (risk check, journal
  commit, venue mapping, rate limiter, ccxt request building and signing) to the moment ccxt
  hands the HTTP request to aiohttp. Measured by wrapping the client's `fetch` coroutine (the
  one call ccxt makes right before `aiohttp.ClientSession.request`) to stamp `perf_counter`,
  and wrapping `OrderManager.submit` to stamp its entry. Target: p99 <= 2 ms.

Run: `.venv/bin/python benchmarks/sandbox_roundtrip.py [--orders 300]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.order_manager import OrderManager
from tradeguard.marketdata.state import MarketState
from tradeguard.model import Order, OrderIntent, OrderType, Quote, Side
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.store import MemoryStateStore
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory

SYMBOL = "BTC/USDT"


def _pcts(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return {
        "p50": round(q[49] * 1000, 3),
        "p99": round(q[98] * 1000, 3),
        "max": round(s[-1] * 1000, 3),
        "n": len(s),
    }


async def run(n: int) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    config = SandboxConfig(weight_limit_per_minute=1_000_000)
    async with seeded_exchange(config) as ex:
        factory = ccxt_client_factory(
            "binance",
            {"apiKey": ALICE_KEY, "secret": ALICE_SECRET},
            rest_url=ex.rest_url,
            ws_url=ex.ws_url,
        )
        venue = CcxtVenue("sbx", factory, Clock(), rate_limit_per_minute=1_000_000)
        await venue.connect()
        sent_at: list[float] = []
        original_fetch = venue.client.fetch

        async def stamped_fetch(url: str, method: str = "GET", *args: Any, **kw: Any) -> Any:
            if method == "POST" and url.endswith("/order"):
                sent_at.append(time.perf_counter())
            return await original_fetch(url, method, *args, **kw)

        venue.client.fetch = stamped_fetch
        try:
            roundtrip = await _roundtrips(venue, n)
            overhead = await _overheads(venue, n, sent_at)
        finally:
            await venue.close()
    return {
        "benchmark": "sandbox_roundtrip",
        "orders": n,
        "roundtrip_ms": _pcts(roundtrip),
        "overhead_ms": _pcts(overhead),
        "overhead_target_p99_ms": 2.0,
        "overhead_ok": _pcts(overhead)["p99"] <= 2.0,
        "method": "overhead = OrderManager.submit entry -> ccxt fetch() call (aiohttp handoff)",
    }


async def _roundtrips(venue: CcxtVenue, n: int) -> list[float]:
    out: list[float] = []
    for i in range(n):
        order = Order(f"rt-{i}", "bench", "sbx", SYMBOL, Side.BUY, OrderType.LIMIT,
                      Decimal("0.001"), Decimal("45000"))  # fmt: skip
        t0 = time.perf_counter()
        await venue.submit(order)
        out.append(time.perf_counter() - t0)
        await venue.cancel(order)
    return out


async def _overheads(venue: CcxtVenue, n: int, sent_at: list[float]) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        clock = Clock()
        market = MarketState()
        for inst in venue.instruments.values():
            market.add_instrument(inst)
        portfolio = Portfolio("USDT")
        portfolio.set_balances("sbx", await venue.fetch_balances())
        bus = EventBus()
        risk = RiskEngine(
            RiskConfig(max_trades_per_day=1_000_000, max_orders_per_s=Decimal(1000),
                       ceiling_override_ack="I accept losses beyond the built-in ceilings",
                       stable_reserve_pct=Decimal(0), min_order_notional_usd=Decimal(0)),
            clock, MemoryStateStore(), bus.publish,
        )  # fmt: skip
        om = OrderManager(storage=Storage(db), venues={"sbx": venue}, risk=risk,
                          portfolio=portfolio, market=market, bus=bus, clock=clock)  # fmt: skip
        out: list[float] = []
        for _ in range(n):
            market.on_quote(Quote(SYMBOL, clock.now_ms(), Decimal(49999), Decimal(1),
                                  Decimal(50001), Decimal(1)))  # fmt: skip
            portfolio.mark(SYMBOL, Decimal(50000))
            intent = OrderIntent("bench", "sbx", SYMBOL, Side.BUY, Decimal("0.001"),
                                 OrderType.LIMIT, Decimal("49000"))  # fmt: skip
            before = len(sent_at)
            t0 = time.perf_counter()
            result = await om.submit(intent)
            if len(sent_at) == before + 1 and result.order is not None:
                out.append(sent_at[-1] - t0)
                await om.cancel(result.order.client_order_id)
            else:
                raise RuntimeError(f"order did not go out: {result.status} {result.reason}")
        db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.orders)), indent=2))


if __name__ == "__main__":
    main()
