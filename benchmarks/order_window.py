"""One backtest of the orders benchmark over a fixed window, for instruction counts.

    .venv/bin/python benchmarks/order_window.py {EveryCandle|Idle} DAYS RUN_DIR

Replays the first DAYS days of examples/backtest/btc_pairs.toml with the benchmark's strategy
(`EveryCandle`: an order per candle on all seven pairs; `Idle`: the same candles, no order)
and prints one JSON object: the strategy, orders, denied and candles. Run both strategies under
`valgrind --tool=callgrind` (or any instruction counter) with `PYTHONHASHSEED=0`: the difference
of the two counts over the orders is the cost of one order, start-up and candle handling left
out (benchmarks/mypyc_probe.sh does that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from backtest import _config_with  # noqa: E402

START_MS = 1_515_542_400_000  # 2018-01-10 00:00 UTC; the first candles come later that day
DAY_MS = 86_400_000


def main() -> None:
    from tradeguard.backtest.runner import BacktestWindow, run_backtest

    kind, days, run_dir = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    params = {"stake": "0.01"} if kind == "EveryCandle" else {}
    config = _config_with(f"{HERE / 'backtest_strategies.py'}:{kind}", params)
    window = BacktestWindow(start_ms=START_MS, end_ms=START_MS + int(days * DAY_MS))
    result = run_backtest(config, run_dir, window)
    print(
        json.dumps(
            {
                "strategy": kind,
                "orders": result.summary.orders,
                "denied": result.summary.denied,
                "candles": result.summary.events,
            }
        )
    )


if __name__ == "__main__":
    main()
