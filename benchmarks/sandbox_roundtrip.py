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
import time
from decimal import Decimal
from typing import Any

from roundtrip_support import order_manager_rig, pcts, submit_to_wire

from tradeguard.clock import Clock
from tradeguard.model import Order, OrderIntent, OrderType, Quote, Side
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange
from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory

SYMBOL = "BTC/USDT"


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
        "roundtrip_ms": pcts(roundtrip),
        "overhead_ms": pcts(overhead),
        "overhead_target_p99_ms": 2.0,
        "overhead_ok": pcts(overhead)["p99"] <= 2.0,
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
    out: list[float] = []
    async with order_manager_rig(venue, "sbx", "USDT") as rig:
        for _ in range(n):
            rig.market.on_quote(Quote(SYMBOL, rig.clock.now_ms(), Decimal(49999), Decimal(1),
                                      Decimal(50001), Decimal(1)))  # fmt: skip
            rig.portfolio.mark(SYMBOL, Decimal(50000))
            intent = OrderIntent("bench", "sbx", SYMBOL, Side.BUY, Decimal("0.001"),
                                 OrderType.LIMIT, Decimal("49000"))  # fmt: skip
            out.append(await submit_to_wire(rig.om, intent, sent_at, requests=1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.orders)), indent=2))


if __name__ == "__main__":
    main()
