"""Market data benchmark: order book update rate and candle loading time, as one JSON object.

Run: .venv/bin/python benchmarks/replay.py
"""

from __future__ import annotations

import json
import time
from typing import Any

from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.events import BookDelta, BookSnapshot
from tradeguard.marketdata.loaders import default_data_dir, load_book_events, load_candles

BYBIT_FILE = "orderbook/bybit_XRPUSDT_ob500.data.zip"
BTC_CSV = "candles/BTC-PERP_1m_20211231-20220201.csv"


def bench_book(min_seconds: float = 1.5) -> dict[str, Any]:
    """Apply the Bybit ob500 deltas in a loop, re-applying the snapshot; count level updates."""
    events = load_book_events(default_data_dir() / BYBIT_FILE)
    snapshot = next(e for e in events if isinstance(e, BookSnapshot))
    deltas = [e for e in events if isinstance(e, BookDelta)]
    per_loop = sum(d.level_count for d in deltas)
    book = OrderBook(snapshot.symbol)
    loops = 0
    applied_s = 0.0
    while applied_s < min_seconds:
        book.apply_snapshot(snapshot.bids, snapshot.asks, snapshot.ts, snapshot.seq)
        start = time.perf_counter()
        for d in deltas:
            book.apply_levels(d.bids, d.asks, d.ts, d.seq)
            book.best_bid()
            book.best_ask()
        applied_s += time.perf_counter() - start
        loops += 1
    # The same updates one level at a time through the public apply_delta (what a venue calls).
    flat = [
        (side, price, amount, d.ts, d.seq)
        for d in deltas
        for side, levels in (("bid", d.bids), ("ask", d.asks))
        for price, amount in levels
    ]
    single_s = 0.0
    single_loops = 0
    while single_s < min_seconds / 2:
        book.apply_snapshot(snapshot.bids, snapshot.asks, snapshot.ts, snapshot.seq)
        start = time.perf_counter()
        for side, price, amount, ts, seq in flat:
            book.apply_delta(side, price, amount, ts, seq)
        single_s += time.perf_counter() - start
        single_loops += 1
    return {
        "book_updates_per_s": round(per_loop * loops / applied_s),
        "book_apply_delta_per_s": round(len(flat) * single_loops / single_s),
        "book_messages_per_s": round(len(deltas) * loops / applied_s),
        "book_levels_per_loop": per_loop,
        "book_loops": loops,
    }


def bench_btc_csv_load(repeats: int = 3) -> dict[str, Any]:
    """Time loading the 45k-row BTC 1m CSV (best of `repeats`)."""
    path = default_data_dir() / BTC_CSV
    best = float("inf")
    rows = 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = len(load_candles(path))
        best = min(best, time.perf_counter() - start)
    return {"btc_csv_load_s": round(best, 4), "btc_csv_rows": rows}


def bench_candles() -> dict[str, Any]:
    """Replay the whole BTC 1-minute file through the demo strategy, risk, paper venue and storage.

    The file is loaded once outside the timed part; the timed part is `TradingNode.run` on a
    fresh SQLite database (WAL), i.e. everything a candle goes through, including every order,
    fill, position and audit row the run writes.
    """
    import asyncio
    import tempfile

    from tradeguard.config import load_config
    from tradeguard.node import TradingNode

    best: dict[str, Any] = {}
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(None, environ={})
            config.node.database_url = f"sqlite:///{tmp}/bench.db"
            config.node.kill_sentinel = f"{tmp}/tg.kill"
            node = TradingNode(config)
            candles = list(node.candle_stream())
            node.candle_stream = lambda c=candles: iter(c)  # type: ignore[method-assign]
            asyncio.run(node.start())
            t0 = time.perf_counter()
            c0 = time.process_time()
            summary = asyncio.run(node.run())
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            node.close()
        rate = len(candles) / elapsed
        if not best or rate > best["candle_events_per_s"]:
            best = {
                "candle_events_per_s": round(rate),
                "candle_replay_s": round(elapsed, 3),
                # CPU seconds of this process: steadier than wall time on a shared machine
                "candle_replay_cpu_s": round(cpu, 3),
                "candle_events": len(candles),
                "candle_replay_orders": summary.orders,
                "candle_replay_fills": summary.fills,
            }
    return best


def main() -> None:
    result: dict[str, Any] = {}
    result.update(bench_book())
    result.update(bench_btc_csv_load())
    result.update(bench_candles())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
