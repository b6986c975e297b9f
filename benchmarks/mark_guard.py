"""The mark guard's cost per mark: a price within the limit, the guard off, and a held print.

Prints one JSON object with nanoseconds per `MarkGuard.take` call for each case, over a walk of
real-looking BTC/USDT prices (a small random step each update), and the cost of the plain dict
write the guard sits in front of, for scale.

Run: .venv/bin/python benchmarks/mark_guard.py
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal

from tradeguard.risk.mark_guard import MarkGuard

N = 200_000


def _prices(n: int) -> list[Decimal]:
    rng = random.Random(7)
    price, out = Decimal(50_000), []
    for _ in range(n):
        price += Decimal(rng.randint(-50, 50))
        out.append(price)
    return out


def _per_call_ns(guard: MarkGuard, prices: list[Decimal]) -> float:
    take = guard.take
    start = time.perf_counter_ns()
    for i, p in enumerate(prices):
        take("binance", "BTC/USDT", p, i)
    return (time.perf_counter_ns() - start) / len(prices)


def main() -> None:
    prices = _prices(N)
    marks: dict[str, Decimal] = {}
    start = time.perf_counter_ns()
    for p in prices:
        marks["BTC/USDT"] = p
    plain = (time.perf_counter_ns() - start) / N
    # a print, dropped; a print on the other side, dropped ... (a print recurring on the same
    # side would be confirmed: the mark guard takes a crash interleaved with a stale feed)
    bad = (Decimal(50), Decimal(50_000_000))
    held = [bad[i // 2 % 2] if i % 2 else Decimal(50_000) for i in range(N)]
    out = {
        "calls": N,
        "dict_write_ns": round(plain, 1),
        "within_limit_ns": round(_per_call_ns(MarkGuard(Decimal(30), Decimal(0)), prices), 1),
        "guard_off_ns": round(_per_call_ns(MarkGuard(Decimal(0), Decimal(0)), prices), 1),
        "print_then_drop_ns": round(_per_call_ns(MarkGuard(Decimal(30), Decimal(0)), held), 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
