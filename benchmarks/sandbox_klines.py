"""How fast the sandbox answers for candles once it has traded for a day.

Prints JSON with:

- `klines_ms`: one `KlineStore.klines` call for 1,000 one-minute klines (the most a bot asks
  for) over a day of one-second base bars (86,400 trades), p50 and p99;
- `klines_1h_ms`: the same for 500 hourly klines over that day;
- `trade_publish_us`: one step of the moving market (house ladder re-placed, one print, the
  publisher's depth diff, ticker and kline bookkeeping; no websocket subscribers), p50 and p99.

Run: `.venv/bin/python benchmarks/sandbox_klines.py [--repeat 200]`.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from tradeguard.sandbox.klines import KlineStore
from tradeguard.sandbox.motion import Depth, quote_and_print
from tradeguard.sandbox.testing import seeded_exchange

DAY_MS = 86_400_000


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _klines(repeat: int) -> dict[str, dict[str, float]]:
    store = KlineStore()
    t0 = 1_700_000_000_000 // DAY_MS * DAY_MS
    for i in range(86_400):
        store.add_trade("X", t0 + i * 1000, Decimal(100 + i % 50), Decimal("0.1"), i % 2 == 0)
    out = {}
    for name, interval, limit in (("klines_ms", "1m", 1000), ("klines_1h_ms", "1h", 500)):
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            rows = store.klines("X", interval, limit, t0 + DAY_MS - 1)
            samples.append((time.perf_counter() - start) * 1000)
            assert len(rows) == min(limit, 1440 if interval == "1m" else 24)
        out[name] = {"p50": _pct(samples, 0.5), "p99": _pct(samples, 0.99)}
    return out


def _publish(repeat: int) -> dict[str, float]:
    ex = seeded_exchange()
    samples = []
    depth = Depth(Decimal(1))
    for i in range(repeat):
        price = Decimal(50000 + (i % 40) - 20)
        start = time.perf_counter()
        quote_and_print(ex, "BTCUSDT", price, Decimal("0.01"), i % 2 == 0, depth)
        samples.append((time.perf_counter() - start) * 1_000_000)
    return {"p50": _pct(samples, 0.5), "p99": _pct(samples, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    result = _klines(args.repeat)
    result["trade_publish_us"] = _publish(args.repeat)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
