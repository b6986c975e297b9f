"""Live market data: the node's added latency from socket to strategy callback, and its ceiling.

A sandbox in a child process pushes depth diffs and trades of BTC/USDT at N messages/s (each step
moves the house book, one `depthUpdate`, and prints a trade, one `trade`). This process follows
both streams through the real ccxt.pro client and the live hub (book depth 10, trades), as a node
does. Latency is stamped when ccxt hands a parsed message to its handler (the socket read is
done) and again in the sink callback a strategy would get: the hub's and the node's own time.

For each rate it prints p50/p99 of that latency (ms), the messages sent and delivered, and
whether the node kept up (every trade delivered, p99 under 10 ms). `max_sustained_msgs_per_s`
is the highest rate that kept up. Target: p99 <= 2 ms at 5,000 messages/s.

Run: `.venv/bin/python benchmarks/live_data.py [--rates 1000,2000,5000,8000] [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.market import Candle, Quote, TradeTick


async def serve(port: int) -> None:
    """Child: a sandbox on `port`; each stdin line `RATE SECONDS` pushes that load."""
    from tradeguard.sandbox.config import SandboxConfig
    from tradeguard.sandbox.motion import Depth, quote_and_print
    from tradeguard.sandbox.testing import seeded_exchange

    async with seeded_exchange(SandboxConfig(port=port, walk_every_ms=0)) as ex:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        depth = Depth(Decimal(1))
        price = Decimal(50_000)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            rate, seconds = (float(x) for x in line.split())
            steps = int(rate / 2 * seconds)  # two messages a step
            t0, done = loop.time(), 0
            while done < steps:
                due = min(steps, int((loop.time() - t0) * rate / 2) + 1)
                while done < due:
                    price += 1 if done % 2 else -1
                    quote_and_print(ex, "BTCUSDT", price, Decimal("0.001"), done % 2 == 1, depth)
                    done += 1
                await asyncio.sleep(0.001)
            print(f"sent {steps * 2} {loop.time() - t0:.3f}", flush=True)


class LatencySink:
    """Stamp each delivery against the moment ccxt parsed the message that caused it."""

    def __init__(self) -> None:
        self.recv: dict[tuple[str, Any], float] = {}
        self.lat_ms: list[float] = []
        self.trades = 0
        self.books = 0

    def on_message(self, message: Any) -> None:
        if isinstance(message, dict):
            kind = message.get("e")
            key = message.get("t") if kind == "trade" else message.get("E")
            self.recv[(str(kind), key)] = time.perf_counter()

    def _took(self, key: tuple[str, Any]) -> None:
        t = self.recv.pop(key, None)
        if t is not None:
            self.lat_ms.append((time.perf_counter() - t) * 1000)

    async def on_book(self, book: OrderBook) -> None:
        self.books += 1
        self._took(("depthUpdate", book.ts))

    async def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        self._took(("trade", int(trade.trade_id)))

    async def on_live_candle(self, candle: Candle, warmup: bool) -> None:
        pass

    async def on_quote(self, quote: Quote) -> None:
        pass

    def on_stream_event(self, kind: str, data: dict[str, Any]) -> None:
        pass


async def measure(rates: list[int], seconds: float) -> dict[str, Any]:
    from tradeguard.clock import Clock
    from tradeguard.venues.ccxt_venue import CcxtVenue, ccxt_client_factory

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    await child.stdout.readline()
    url = f"http://127.0.0.1:{port}"
    factory = ccxt_client_factory("binance", rest_url=url, ws_url=url.replace("http", "ws"))
    venue = CcxtVenue("sbx", factory, Clock(), stream_user_data=False)
    sink = LatencySink()
    handle = venue.client.handle_message

    def stamped(client: Any, message: Any) -> Any:
        sink.on_message(message)
        return handle(client, message)

    venue.client.handle_message = stamped
    hub = LiveHub({"sbx": venue.market_data()}, sink)
    hub.subscribe([
        Subscription("book", "sbx", "BTC/USDT", depth=10),
        Subscription("trades", "sbx", "BTC/USDT"),
    ])  # fmt: skip
    await asyncio.sleep(1.0)
    out: dict[str, Any] = {"runs": [], "max_sustained_msgs_per_s": 0}
    try:
        for rate in rates:
            sink.lat_ms, sink.trades, sink.books = [], 0, 0
            sink.recv.clear()
            child.stdin.write(f"{rate} {seconds}\n".encode())
            _, sent, took = (await child.stdout.readline()).decode().split()
            await asyncio.sleep(0.5)  # let the tail arrive
            lat = sorted(sink.lat_ms)
            p99 = lat[int(len(lat) * 0.99) - 1] if lat else float("nan")
            kept_up = sink.trades >= int(sent) // 2 and p99 <= 10
            out["runs"].append({
                "rate_msgs_per_s": rate, "sent": int(sent), "send_s": float(took),
                "trades_delivered": sink.trades, "book_updates_delivered": sink.books,
                "p50_ms": round(statistics.median(lat), 3) if lat else None,
                "p99_ms": round(p99, 3), "kept_up": kept_up,
            })  # fmt: skip
            if kept_up:
                out["max_sustained_msgs_per_s"] = rate
    finally:
        await hub.stop()
        await venue.close()
        child.stdin.close()
        await child.wait()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rates", default="1000,2000,5000,8000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    rates = [int(r) for r in args.rates.split(",")]
    print(json.dumps(asyncio.run(measure(rates, args.seconds)), indent=2))


if __name__ == "__main__":
    main()
