"""Triangular scanner speed: index build, full rescan and per-ticker update on generated venues.

Run: .venv/bin/python benchmarks/triangular.py [--updates N] [--repeats N]
Prints one JSON object. Targets: full rescan of triangles at 400/1,500 <= 1 ms; incremental
update p99 <= 50 us; full rescan at length 4 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import numpy as np

from tradeguard.strategies.triangular.scanner import TriangularScanner
from tradeguard.strategies.triangular.universe import generate_universe

UNIVERSES = ((400, 1_500), (800, 3_000))
LENGTHS = (3, 4)
TARGET_RESCAN_TRIANGLES_MS = 1.0
TARGET_RESCAN_LEN4_MS = 50.0
TARGET_UPDATE_P99_US = 50.0


def _case(
    n_assets: int, n_markets: int, max_cycle: int, updates: int, repeats: int
) -> dict[str, Any]:
    universe = generate_universe(n_assets, n_markets, seed=7)
    t0 = time.perf_counter()
    scanner = TriangularScanner(universe.markets, max_cycle=max_cycle)
    build_ms = (time.perf_counter() - t0) * 1e3
    scanner.load_tickers(universe.tickers)

    rescans = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        scanner.rescan()
        rescans.append((time.perf_counter_ns() - t0) / 1e6)

    rng = np.random.default_rng(11)
    ticks = [universe.next_tick(rng) for _ in range(updates)]
    for t in ticks[:200]:  # warm caches and the allocator
        scanner.update_ticker(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
    samples = np.empty(len(ticks))
    touched = np.empty(len(ticks))
    update = scanner.update_ticker
    clock = time.perf_counter_ns
    for i, t in enumerate(ticks):
        t0 = clock()
        touched[i] = update(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
        samples[i] = (clock() - t0) / 1e3

    t0 = time.perf_counter_ns()
    best = scanner.top(10)
    top_ms = (time.perf_counter_ns() - t0) / 1e6
    rescan_ms = statistics.median(rescans)
    target = TARGET_RESCAN_TRIANGLES_MS if max_cycle == 3 else TARGET_RESCAN_LEN4_MS
    p99 = float(np.percentile(samples, 99))
    return {
        "assets": len(scanner.assets),
        "markets": len(scanner.markets),
        "max_cycle": max_cycle,
        "cycles_indexed": scanner.n_cycles,
        "profitable_cycles": int((scanner.scores() > 0).sum()),
        "index_build_ms": round(build_ms, 3),
        "full_rescan_ms_median": round(rescan_ms, 4),
        "full_rescan_ms_p90": round(float(np.percentile(rescans, 90)), 4),
        "update_us_p50": round(float(np.percentile(samples, 50)), 2),
        "update_us_p99": round(p99, 2),
        "update_us_max": round(float(samples.max()), 2),
        "update_cycles_touched_mean": round(float(touched.mean()), 1),
        "update_cycles_touched_max": int(touched.max()),
        "top10_with_sizing_ms": round(top_ms, 3),
        "best_profit_pct": str(best[0].profit_pct) if best else None,
        "rescan_target_ms": target,
        "rescan_meets_target": rescan_ms <= target,
        "update_p99_meets_target": p99 <= TARGET_UPDATE_P99_US,
    }


def main() -> None:
    """Run every universe and cycle length and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=20_000, help="ticker updates per case")
    parser.add_argument("--repeats", type=int, default=50, help="full rescans per case")
    args = parser.parse_args()
    cases = [
        _case(a, m, length, args.updates, args.repeats) for a, m in UNIVERSES for length in LENGTHS
    ]
    print(
        json.dumps(
            {
                "benchmark": "triangular",
                "python": platform.python_version(),
                "numpy": np.__version__,
                "machine": platform.machine(),
                "targets": {
                    "full_rescan_triangles_400_1500_ms": TARGET_RESCAN_TRIANGLES_MS,
                    "full_rescan_len4_ms": TARGET_RESCAN_LEN4_MS,
                    "update_p99_us": TARGET_UPDATE_P99_US,
                },
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
