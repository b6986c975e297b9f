"""What the arbitrage routes cost the node's event loop as `arb_executions` grows.

Prints one JSON object: for N recorded cycles (a mix of outcomes, three legs each, SQLite), the
time of one `/arb/summary` computation cold (the first call of a filter after a start reads a
few figures of every matching cycle, in a worker thread), warm (nothing new: one id lookup) and
after one new cycle (only that row is read, on the loop), and of one `/arb/executions` page (50
newest, with the total). Target: warm and incremental summaries and a page under 2 ms at 50,000
cycles, so a dashboard refreshing on every event does not slow trading.

Run: .venv/bin/python benchmarks/arb_api.py [--cycles 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.api.arb_figures import ArbFigures, execution_json
from tradeguard.model import Side
from tradeguard.storage.arb_repository import (
    count_arb_executions,
    insert_arb_execution,
    load_arb_executions,
)
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.strategies.triangular.executor import ArbExecution, LegExecution

OUTCOMES = ["rejected"] * 12 + ["completed"] * 6 + ["unwound", "held"]


def _row(rng: random.Random, ts: int) -> dict[str, Any]:
    outcome = rng.choice(OUTCOMES)
    rec = ArbExecution(
        strategy_id="tri",
        cycle_id=rng.randrange(500),
        path="USDT -> ETH -> BTC -> USDT",
        start_asset="USDT",
        size=Decimal("500"),
        expected_profit_pct=Decimal(str(round(rng.uniform(0.5, 1.2), 6))),
        expected_profit=Decimal("4"),
        outcome=outcome,  # type: ignore[arg-type]
        actual_profit=Decimal(str(round(rng.uniform(-2, 5), 8))),
        actual_profit_pct=Decimal(str(round(rng.uniform(-0.4, 1.0), 8))),
        latency_ms=rng.uniform(5, 200),
        held={"ETH": Decimal("0.01")} if outcome == "held" else {},
        ts=ts,
    )
    if outcome != "rejected":
        for i, (symbol, side) in enumerate(
            [("ETH/USDT", Side.BUY), ("ETH/BTC", Side.SELL), ("BTC/USDT", Side.SELL)]
        ):
            rec.legs.append(
                LegExecution("leg", i, symbol, side, "A", "B", Decimal("3100.5"),
                             Decimal("3101"), Decimal("0.16"), Decimal("0.16"), Decimal("3100.9"),
                             status="filled", client_order_id=f"paper-{ts}-{i}")
            )  # fmt: skip
    return rec.to_row({"cycle_id": rec.cycle_id, "path": rec.path, "legs": []})


def _ms(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return _stats(times)


def _stats(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}


async def _summaries(
    figures: ArbFigures, storage: Storage, rng: random.Random, ts: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Time the first summary, repeated ones, and ones after each new cycle (ms)."""

    async def timed() -> float:
        started = time.perf_counter()
        (await figures.summary("tri")).to_json()
        return (time.perf_counter() - started) * 1000

    lags: list[float] = []

    async def tick() -> None:  # how late the loop wakes a 1 ms sleeper meanwhile
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.001)
            lags.append((loop.time() - started - 0.001) * 1000)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    lags.clear()
    cold = await timed()
    ticker.cancel()
    cold_lag = max(lags, default=0.0)
    warm = [await timed() for _ in range(200)]
    after_new = []
    for _ in range(100):
        ts += 1000
        insert_arb_execution(storage, _row(rng, ts))
        after_new.append(await timed())
    return (
        {"ms": round(cold, 1), "max_loop_lag_ms": round(cold_lag, 1)},
        _stats(warm),
        _stats(after_new),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'arb.db'}")
        db.migrate()
        storage = Storage(db)
        ts = 1_700_000_000_000
        with storage.transaction():
            for i in range(args.cycles):
                insert_arb_execution(storage, _row(rng, ts + i * 1000))
        ts += args.cycles * 1000

        figures = ArbFigures(storage)
        cold, warm, incremental = asyncio.run(_summaries(figures, storage, rng, ts))

        def page() -> None:
            rows = load_arb_executions(storage, limit=50, newest_first=True)
            [execution_json(r) for r in rows]
            count_arb_executions(storage)

        report = {
            "cycles": args.cycles,
            "summary_cold": cold,
            "summary_warm": warm,
            "summary_after_one_new_cycle": incremental,
            "executions_page_of_50": _ms(page, 50),
        }
        db.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
