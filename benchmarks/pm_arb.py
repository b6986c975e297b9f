"""Rescoring 1,000 mapped pairs on one book update: p50/p99 in microseconds, printed as JSON.

Each pair has ten-level books on both venues; one in ten has a mispricing on its top levels, the
rest cost more than $1 together. Every update replaces one book (a random pair, a random side)
and rescores the pairs on it, then asks for the best opportunity among the profitable pairs.
Target: p99 <= 50 us.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from decimal import Decimal

from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair

PAIRS, UPDATES = 1_000, 20_000
NOW = 1_780_000_000_000


def _doc() -> dict:
    side = {"resolution_source": "s", "resolves_at": dt.date(2026, 12, 1), "void_rule": "50-50"}
    return {"pairs": [
        {"id": f"p{i}", "reviewed_by": "b", "reviewed_at": dt.date(2026, 1, 1),
         "review_expires_at": dt.date(2027, 1, 1),
         "polymarket": {**side, "market": f"m{i}", "yes_token": f"{i}y", "no_token": f"{i}n"},
         "kalshi": {**side, "ticker": f"K{i}"}}
        for i in range(PAIRS)
    ]}  # fmt: skip


def _book(rng: random.Random, top: float) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(str(round(min(top + 0.01 * k, 0.99), 2))), Decimal(rng.randint(5, 200)))
        for k in range(10)
    ]


def main() -> None:
    rng = random.Random(7)
    book = parse_market_map(_doc())
    pm_f, k_f = FeeModel.default("polymarket"), FeeModel.default("kalshi")
    scanner = PairScanner([scan_pair(p, "pm", "k", pm_f, k_f) for p in book.pairs.values()])
    keys = []
    for i in range(PAIRS):
        yes = rng.uniform(0.2, 0.8)
        gap = -0.03 if i % 10 == 0 else 0.02
        for venue, sym, top in (
            ("pm", f"m{i}:YES/PUSD", yes), ("k", f"K{i}:NO/USD", 1 - yes + gap),
            ("k", f"K{i}:YES/USD", yes + 0.01), ("pm", f"m{i}:NO/PUSD", 1 - yes + 0.01),
        ):  # fmt: skip
            scanner.update_book(venue, sym, _book(rng, round(top, 2)))
            keys.append((venue, sym, round(top, 2)))
    prepared = [(k, _book(rng, k[2])) for k in rng.choices(keys, k=UPDATES)]
    rescore, best = [], []
    for (venue, sym, _), asks in prepared:
        t0 = time.perf_counter_ns()
        scanner.update_book(venue, sym, asks)
        t1 = time.perf_counter_ns()
        scanner.best(NOW, Decimal(1))
        t2 = time.perf_counter_ns()
        rescore.append((t1 - t0) / 1000)
        best.append((t2 - t1) / 1000)
    print(json.dumps({
        "benchmark": "pm_arb.rescore_one_book_update",
        "pairs": PAIRS, "updates": UPDATES, "profitable_pairs": len(scanner.scores),
        "rescore_us": _pct(rescore), "best_of_profitable_us": _pct(best),
        "target_p99_us": 50,
    }, indent=2))  # fmt: skip


def _pct(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {q: round(s[int(len(s) * f) - 1], 2) for q, f in (("p50", 0.5), ("p99", 0.99))}


if __name__ == "__main__":
    main()
