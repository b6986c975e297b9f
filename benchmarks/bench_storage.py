"""Storage write throughput on SQLite: journal upserts (one commit each) and batched fills.

Run: .venv/bin/python benchmarks/bench_storage.py [--orders N] [--fills N] [--url URL]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tradeguard.model import Fill, LiquiditySide, Order, OrderType, Side
from tradeguard.storage import Database, Storage


def _order(i: int) -> Order:
    return Order(
        client_order_id=f"bench-{i:08d}",
        strategy_id="bench",
        venue="paper",
        symbol="BTC/USDT",
        side=Side.BUY if i % 2 else Side.SELL,
        type=OrderType.LIMIT,
        amount=Decimal("0.00123"),
        price=Decimal("64123.45") + i,
        created_ts=1_700_000_000_000 + i,
        updated_ts=1_700_000_000_000 + i,
        signal={"score": Decimal("0.5")},
    )


def _fill(i: int) -> Fill:
    return Fill(
        venue="paper",
        symbol="BTC/USDT",
        client_order_id=f"bench-{i % 1000:08d}",
        venue_order_id=str(i),
        trade_id=f"t{i}",
        side=Side.BUY,
        price=Decimal("64000.01"),
        amount=Decimal("0.0001"),
        fee=Decimal("0.0000001"),
        fee_asset="BTC",
        liquidity=LiquiditySide.TAKER,
        ts=1_700_000_000_000 + i,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--fills", type=int, default=20000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        db.migrate()
        storage = Storage(db)
        orders = [_order(i) for i in range(args.orders)]
        start = time.perf_counter()
        for order in orders:
            storage.upsert_order(order)
        order_s = time.perf_counter() - start

        fills = [_fill(i) for i in range(args.fills)]
        start = time.perf_counter()
        with storage.transaction():
            for fill in fills:
                storage.insert_fill(fill, "bench")
        fill_s = time.perf_counter() - start

        start = time.perf_counter()
        with storage.transaction():
            dups = sum(not storage.insert_fill(f, "bench") for f in fills[:5000])
        dup_s = time.perf_counter() - start
        db.dispose()
    print(
        json.dumps(
            {
                "backend": db.dialect,
                "upsert_order_single_commit_per_s": round(args.orders / order_s),
                "insert_fill_in_transaction_per_s": round(args.fills / fill_s),
                "insert_fill_duplicate_in_transaction_per_s": round(5000 / dup_s),
                "duplicates_refused": dups,
                "orders": args.orders,
                "fills": args.fills,
            }
        )
    )


if __name__ == "__main__":
    main()
