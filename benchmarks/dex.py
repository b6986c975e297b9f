"""DEX figures: a quote from cached reserves, and a swap round trip on the local chain.

    .venv/bin/python benchmarks/dex.py [--swaps 20]

Prints JSON: quote p50/p99 in microseconds (target p99 <= 50), swap round trip p50/p99 in
milliseconds, and the node's share of it: the round trip less the time the chain spent
answering (what remains is signing, journaling, decoding, polling and HTTP transport).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dex_support import ChainThread, connected_venue
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def _run(chain: ChainThread, swaps: int) -> dict[str, float]:
    venue = await connected_venue(chain.deployment, approve_unlimited=True)
    one = Decimal("0.01")
    quotes = []
    for _ in range(20_000):
        t = time.perf_counter_ns()
        venue.quote("WETH/USD", Side.SELL, one)
        quotes.append((time.perf_counter_ns() - t) / 1000)
    evm_s = 0.0
    original = chain.chain.call

    def timed(method: str, params: list[object]) -> dict[str, object]:
        nonlocal evm_s
        t = time.perf_counter()
        try:
            return original(method, params)
        finally:
            evm_s += time.perf_counter() - t

    chain.chain.call = timed  # type: ignore[method-assign]
    trips, own = [], []
    for i in range(swaps):
        order = Order(
            client_order_id=f"bench-{i}", strategy_id="b", venue="dex", symbol="WETH/USD",
            side=Side.SELL, type=OrderType.MARKET, amount=one, status=OrderStatus.SUBMITTED,
        )  # fmt: skip
        evm_s = 0.0
        t = time.perf_counter()
        await venue.submit(order)
        total = time.perf_counter() - t
        trips.append(total * 1000)
        own.append((total - evm_s) * 1000)
    await venue.close()
    return {
        "quote_p50_us": round(_pct(quotes, 0.5), 2),
        "quote_p99_us": round(_pct(quotes, 0.99), 2),
        "swap_round_trip_p50_ms": round(_pct(trips, 0.5), 1),
        "swap_round_trip_p99_ms": round(_pct(trips, 0.99), 1),
        "node_and_transport_p50_ms": round(_pct(own, 0.5), 2),
        "node_and_transport_p99_ms": round(_pct(own, 0.99), 2),
        "swaps": swaps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--swaps", type=int, default=20)
    args = parser.parse_args()
    chain = ChainThread()
    try:
        print(json.dumps(asyncio.run(_run(chain, args.swaps))))
    finally:
        chain.stop()


if __name__ == "__main__":
    main()
