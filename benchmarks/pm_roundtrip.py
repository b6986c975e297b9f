"""Order round trips through the local Kalshi and Polymarket servers, and the node's overhead.

Prints JSON per dialect:

- `roundtrip_ms`: venue `submit` of a resting limit order until the answer is parsed, p50/p99
  (Kalshi: one signed POST; Polymarket: the POST and the query of the order by its hash);
  each order is cancelled afterwards (not counted).
- `overhead_ms`: from `OrderManager.submit` entry (risk check, journal commit, order mapping,
  request signing: RSA-PSS for Kalshi, EIP-712 + HMAC for Polymarket) to the moment the order
  request is handed to httpx. Target: p99 <= 2 ms.

Run: `.venv/bin/python benchmarks/pm_roundtrip.py [--orders 200]`.
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
from tradeguard.model import Order, OrderIntent, OrderType, Side
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.polymarket.venue import PolymarketVenue

SYMBOLS = {"kalshi": "KXFED-26DEC-T4.00:YES/USD", "polymarket": "fed-above-4pct-dec:YES/PUSD"}


async def run_dialect(dialect: str, n: int) -> dict[str, Any]:
    venue: Any
    if dialect == "kalshi":
        keys = kalshi_keys(None)
        server: Any = kalshi_demo(keys)
        server.writes_per_s = 1_000_000
        await server.start()
        venue = KalshiVenue(
            "kalshi", server.rest_url, keys["key_id"], keys["private_key_pem"], Clock(),
            stream_fills=False,
        )  # fmt: skip
        http = venue.client._http
    else:
        keys = polymarket_keys(None)
        server = polymarket_demo(keys)
        await server.start()
        venue = PolymarketVenue("polymarket", server.url, keys["private_key"], Clock())
        http = venue._http
    sent_at: list[float] = []
    original = http.request

    async def stamped(method: str, url: str, *args: Any, **kw: Any) -> Any:
        if method == "POST" and url.endswith(("/portfolio/orders", "/order")):
            sent_at.append(time.perf_counter())
        return await original(method, url, *args, **kw)

    http.request = stamped
    try:
        await venue.connect()
        roundtrip = await _roundtrips(venue, dialect, n)
        overhead = await _overheads(venue, dialect, n, sent_at)
    finally:
        await venue.close()
        await server.stop()
    return {
        "roundtrip_ms": pcts(roundtrip),
        "overhead_ms": pcts(overhead),
        "overhead_ok": pcts(overhead)["p99"] <= 2.0,
    }


async def _roundtrips(venue: Any, dialect: str, n: int) -> list[float]:
    out: list[float] = []
    for i in range(n):
        order = Order(f"rt-{i}", "bench", dialect, SYMBOLS[dialect], Side.BUY, OrderType.LIMIT,
                      Decimal(10), Decimal("0.30"), created_ts=int(time.time() * 1000))  # fmt: skip
        t0 = time.perf_counter()
        report = await venue.submit(order)
        out.append(time.perf_counter() - t0)
        order.venue_order_id = report.venue_order_id
        await venue.cancel(order)
    return out


async def _overheads(venue: Any, dialect: str, n: int, sent_at: list[float]) -> list[float]:
    symbol = SYMBOLS[dialect]
    out: list[float] = []
    async with order_manager_rig(venue, dialect, "USD", price_band_pct=Decimal(50)) as rig:
        q = await venue.fetch_quote(symbol)
        for _ in range(n):
            rig.market.on_quote(q.__class__(symbol, rig.clock.now_ms(), q.bid, q.bid_size, q.ask,
                                            q.ask_size))  # fmt: skip
            rig.portfolio.mark(symbol, q.mid)
            intent = OrderIntent("bench", dialect, symbol, Side.BUY, Decimal(10),
                                 OrderType.LIMIT, Decimal("0.40"))  # fmt: skip
            out.append(await submit_to_wire(rig.om, intent, sent_at))
    return out


async def run(n: int) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    out: dict[str, Any] = {"benchmark": "pm_roundtrip", "orders": n}
    for dialect in ("kalshi", "polymarket"):
        out[dialect] = await run_dialect(dialect, n)
    out["overhead_target_p99_ms"] = 2.0
    out["method"] = "overhead = OrderManager.submit entry -> httpx request() call for the order"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.orders)), indent=2))


if __name__ == "__main__":
    main()
