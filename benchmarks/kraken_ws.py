"""Kraken sandbox websocket v2: trades per second from the engine to ccxt.pro.kraken's caches.

One process holds the sandbox and the real ccxt.pro.kraken client on 127.0.0.1 (so the figure
is the cost of both on one core). The client subscribes to `trade`, `book` (depth 10) and
`ticker` (`bbo`) of BTC/USD; the house then sells into a deep bid N times (each trade moves the
book and the ticker), yielding to the event loop every `--batch` trades. Figures: trades/s and
socket messages/s from the first trade until ccxt has parsed the last one, and the book's
quantity at the best bid as ccxt holds it against the engine's (must agree).

Run: `.venv/bin/python benchmarks/kraken_ws.py [--trades 5000] [--batch 50]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from tradeguard.sandbox.kraken.client import make_kraken_client
from tradeguard.sandbox.kraken.testing import seeded_kraken


async def run(trades: int, batch: int) -> dict[str, Any]:
    async with seeded_kraken() as kx:
        kx.set_book("BTC/USD", bids=[("49999", "100000")], asks=[("50001", "100000")])
        client = make_kraken_client(kx.base_url, "", "")
        counts = {"messages": 0, "trades": 0}
        handle = client.handle_message

        def counting(ws: Any, message: Any) -> Any:
            counts["messages"] += 1
            if isinstance(message, dict) and message.get("channel") == "trade":
                counts["trades"] += len(message.get("data") or ())
            return handle(ws, message)

        client.handle_message = counting
        try:
            await client.watch_order_book("BTC/USD", 10)
            await client.watch_ticker("BTC/USD", {"event_trigger": "bbo"})
            watcher = asyncio.ensure_future(client.watch_trades("BTC/USD"))
            while len(kx.kraken_ws.subscriptions()) < 3:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            counts["messages"] = 0
            started = time.perf_counter()
            for i in range(trades):
                kx.trade_through("BTC/USD", "SELL", "49999", "0.0001")
                if i % batch == batch - 1:
                    await asyncio.sleep(0)
            sent_s = time.perf_counter() - started
            while counts["trades"] < trades:
                await asyncio.sleep(0.001)
            elapsed = time.perf_counter() - started
            watcher.cancel()
            ccxt_bid = client.orderbooks["BTC/USD"]["bids"][0]
            engine_bid = kx.engine.best("BTCUSD")[0]
            assert engine_bid is not None
        finally:
            await client.close()
    return {
        "trades": trades,
        "engine_publish_s": round(sent_s, 3),
        "elapsed_s": round(elapsed, 3),
        "trades_per_s": round(trades / elapsed),
        "messages_per_s": round(counts["messages"] / elapsed),
        "book_agrees": Decimal(str(ccxt_bid[1])) == engine_bid[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.trades, args.batch))))


if __name__ == "__main__":
    main()
