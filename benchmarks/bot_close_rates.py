"""The cost of a bot gate's read of its trades' close rates (`bot_close_rates.in_usd`).

A bot with a full history (1,000 closes of ETH/BTC, each with its BTC rate kept) on SQLite;
`in_usd` converts its closed trades as each gate check does. Prints one JSON object: the CPU
time per call (process time, for scale only on a shared machine) and the calls made, so that
two runs under callgrind (`CALLS=0` and `CALLS=N`) give the instructions per call:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cr0 env CALLS=0 \\
        .venv/bin/python benchmarks/bot_close_rates.py
    valgrind --tool=callgrind --callgrind-out-file=/tmp/crN env CALLS=200 \\
        .venv/bin/python benchmarks/bot_close_rates.py
    (difference of the two `summary:` lines) / 200

Run: .venv/bin/python benchmarks/bot_close_rates.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tradeguard.bus import EventBus
from tradeguard.model.events import Event, EventKind
from tradeguard.node.bot_close_rates import in_usd, record_close_rates
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

CLOSES = 1000


def _node(path: Path) -> Any:
    db = Database(f"sqlite:///{path / 'rates.db'}")
    db.migrate()
    BotRows(db).save_bot("signals", True, {"venue": "binance", "symbols": ["ETH/BTC"]}, 1)
    node = SimpleNamespace(
        bus=EventBus(), db=db, storage=Storage(db), bot_strategies=frozenset({"signals"}),
        strategies=[], portfolio=SimpleNamespace(price_of=lambda quote, usd: Decimal(60_000)),
    )  # fmt: skip
    record_close_rates(node)  # type: ignore[arg-type]
    for ts in range(1, CLOSES + 1):
        event = Event(EventKind.POSITION_CLOSED, ts, {}, "binance", "ETH/BTC", "signals")
        with node.storage.transaction():
            node.bus.publish(event)
    return node


def main() -> None:
    calls = int(os.environ.get("CALLS", "200"))
    with tempfile.TemporaryDirectory() as tmp:
        node = _node(Path(tmp))
        row = {"strategy_id": "signals", "venue": "binance", "symbol": "ETH/BTC",
               "exit_ts": CLOSES, "pnl": Decimal("-0.0005")}  # fmt: skip
        assert in_usd(node, [row])[0]["usd_at"] == "close"
        start = time.process_time()
        for _ in range(calls):
            in_usd(node, [row])
        spent = time.process_time() - start
        node.db.engine.dispose()
    per_call = round(spent / calls * 1e6, 1) if calls else None
    print(json.dumps({"closes_kept": CLOSES, "calls": calls, "cpu_us_per_call": per_call}))


if __name__ == "__main__":
    main()
