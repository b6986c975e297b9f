"""Kraken venue: fill-to-booking latency by the private websocket v2 against REST polling.

One process holds the Kraken sandbox and the node's Kraken venue (the real ccxt.pro.kraken) on
127.0.0.1. For each of `--fills` rounds the venue rests a buy, the house sells through it, and
the time from the trade in the engine to the venue handing the fill to its listener is taken.
Mode `stream`: the private `executions` stream live (no polling); mode `polling`: no private
stream, open orders polled every `--poll-s` (the venue's default 1 s). Figures per mode:
p50 / p95 / max in ms, and the REST calls the venue made per round (sending and querying
the order, 2, included).

Run: `.venv/bin/python benchmarks/kraken_fill_latency.py [--fills 20] [--poll-s 1.0]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from decimal import Decimal
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.venues.ccxt_clients import ccxt_client_factory
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue


class Clocked:
    """A listener noting when each fill arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    def on_fill(self, fill: Any) -> None:
        self.arrived.setdefault(fill.client_order_id, time.perf_counter())

    def on_order_report(self, report: Any) -> None: ...

    def on_balances(self, venue: str, balances: Any) -> None: ...


async def run(mode: str, fills: int, poll_s: float) -> dict[str, Any]:
    async with seeded_kraken() as kx:
        factory = ccxt_client_factory(
            "kraken", {"apiKey": CAROL_KEY, "secret": CAROL_SECRET}, rest_url=kx.base_url
        )
        venue = KrakenCcxtVenue("kraken", factory, Clock(), stream_user_data=mode == "stream")
        venue.order_poll_s = poll_s
        await venue.connect()
        listener = Clocked()
        venue.set_listener(listener)  # type: ignore[arg-type]
        calls = [0]
        real = venue._call

        async def counted(op: str, *args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            return await real(op, *args, **kwargs)

        venue._call = counted  # type: ignore[method-assign]
        try:
            deadline = time.monotonic() + 20
            while mode == "stream" and not venue.stream_live():
                assert time.monotonic() < deadline, "the private stream never went live"
                await asyncio.sleep(0.02)
            latencies: list[float] = []
            calls[0] = 0
            for i in range(fills):
                cid = f"tgbench-{i}"
                intent = OrderIntent(
                    strategy_id="b", venue="kraken", symbol="BTC/USD", side=Side.BUY,
                    amount=Decimal("0.001"), type=OrderType.LIMIT, price=Decimal("50000"),
                    time_in_force=TimeInForce.GTC,
                )  # fmt: skip
                await venue.submit(Order.from_intent(intent, cid, Clock().now_ms()))
                await asyncio.sleep(0.01)
                traded = time.perf_counter()
                kx.trade_through("BTC/USD", "SELL", "50000", "0.001")
                while cid not in listener.arrived:
                    assert time.perf_counter() - traded < 10 * poll_s + 10, f"{cid} never came"
                    await asyncio.sleep(0.001)
                latencies.append((listener.arrived[cid] - traded) * 1000)
            latencies.sort()
            return {
                "fills": fills,
                "p50_ms": round(statistics.median(latencies), 1),
                "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 1),
                "max_ms": round(latencies[-1], 1),
                "rest_calls_per_fill": round(calls[0] / fills, 2),
            }
        finally:
            await venue.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=20)
    p.add_argument("--poll-s", type=float, default=1.0)
    a = p.parse_args()
    if not 1 <= a.fills <= 1000:
        p.error(f"--fills must be 1..1000, got {a.fills}")
    if not 0.01 <= a.poll_s <= 60:
        p.error(f"--poll-s must be 0.01..60, got {a.poll_s}")
    out = {
        "kraken_fill_to_booking_stream": asyncio.run(run("stream", a.fills, a.poll_s)),
        "kraken_fill_to_booking_polling": asyncio.run(run("polling", a.fills, a.poll_s)),
        "poll_s": a.poll_s,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
