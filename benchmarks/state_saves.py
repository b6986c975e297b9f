"""How often a live node stores a strategy's state for its exit levels, on the bundled data.

Run: .venv/bin/python benchmarks/state_saves.py [ticks_per_s]

The BTC-PERP minutes (45,031 candles) are played through the real `ma_crossover` (closes, with
a trailing stop) and through a long `ExitTracker` (token_unlock's default exits, and a tight
0.5 % trail armed from the entry) fed four prices per minute (open, then low and high in the
bar's order, close: a quote-driven strategy), re-entering after every exit. Each price is one
live step; a step whose exit levels moved asks for a store (`Strategy.save_soon`). The stores a
node makes are the asks coalesced by `node.state_save_interval_s` (0.2 s) with the steps spaced
as live: a candle a minute, and for the quotes `ticks_per_s` (default 10, a fast market). Also
the time one store takes on SQLite. Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.marketdata.loaders import default_data_dir, load_candles
from tradeguard.model.market import Candle
from tradeguard.model.position import Position
from tradeguard.storage.db import Database
from tradeguard.storage.repository import RunState, Storage
from tradeguard.strategies.exits import ExitRules, ExitTracker
from tradeguard.strategies.ma_crossover import MACrossover

BTC_CSV = "candles/BTC-PERP_1m_20211231-20220201.csv"
INTERVAL_S = 0.2


class _Book:
    """A context filling every market order at once at the last close (one strategy)."""

    def __init__(self) -> None:
        self.pos = Position("ma", "sim", "BTC/USDT")
        self.close = Decimal(0)

    def position(self, *_: Any) -> Position:
        return self.pos

    def open_order_count(self, *_: Any) -> int:
        return 0

    def instrument(self, *_: Any) -> None:
        return None

    def free(self, *_: Any) -> Decimal:
        return self.pos.quantity

    def emit(self, intent: Any) -> None:
        if intent.side.value == "buy":
            self.pos.quantity, self.pos.avg_entry = intent.amount, self.close
        else:
            self.pos.quantity = Decimal(0)


def coalesced(asks: list[float], interval_s: float) -> int:
    """Stores made for asks at these times: at once when the interval allows, else at its end
    (one store for every ask inside it)."""
    writes, next_ok, pending = 0, 0.0, False
    for t in asks:
        if pending and t >= next_ok:  # the timer fired before this step
            writes, next_ok, pending = writes + 1, next_ok + interval_s, False
        if t >= next_ok:
            writes, next_ok = writes + 1, t + interval_s
        else:
            pending = True
    return writes + pending


def ma_asks(candles: list[Candle]) -> tuple[int, int]:
    strat = MACrossover("ma", "sim", "BTC/USDT", {
        "fast": 20, "slow": 60, "stop_loss_pct": "2", "take_profit_pct": "5",
        "trailing_stop_pct": "1", "trailing_activation_pct": "0.5"})  # fmt: skip
    book = _Book()
    strat.bind(book)  # type: ignore[arg-type]
    asks = entries = 0
    for c in candles:
        book.close = c.close
        held = book.pos.quantity
        strat.on_candle(c)
        entries += not held and book.pos.quantity > 0
        if strat.save_due:
            asks, strat.save_due = asks + 1, False
    return asks, entries


def tracker_asks(
    candles: list[Candle], ticks_per_s: float, rules: ExitRules, tag: str
) -> dict[str, Any]:
    tracker: ExitTracker | None = None
    times: list[float] = []
    steps = exits = 0
    for c in candles:
        mid = (c.low, c.high) if c.close >= c.open else (c.high, c.low)
        for price in (c.open, *mid, c.close):
            steps += 1
            if tracker is None:
                tracker = ExitTracker(rules, price, long=True)
                continue
            reason = tracker.update(price)
            if tracker.take_moved():
                times.append(steps / ticks_per_s)
            if reason is not None:
                exits, tracker = exits + 1, None
    writes = coalesced(times, INTERVAL_S)
    span_s = steps / ticks_per_s
    return {
        "quote_steps": steps, f"{tag}_exits": exits, f"{tag}_asks": len(times),
        f"{tag}_writes": writes, f"{tag}_writes_per_s": round(writes / span_s, 4),
    }  # fmt: skip


def store_ms(rounds: int = 300) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'b.db'}")
        db.migrate()
        storage = Storage(db)
        state = RunState(strategy_id="ma", status="running")
        state.state = {"fast_win": [50000.0] * 20, "slow_win": [50000.0] * 60, "best": "51000"}
        start = time.perf_counter()
        for i in range(rounds):
            state.state["best"] = str(51000 + i)
            with storage.transaction():
                storage.save_run_state(state)
        took = (time.perf_counter() - start) / rounds * 1000
        db.dispose()
    return round(took, 3)


def main() -> None:
    ticks_per_s = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    candles = load_candles(default_data_dir() / BTC_CSV, symbol="BTC/USDT")
    ma, entries = ma_asks(candles)
    out: dict[str, Any] = {
        "candles": len(candles),
        "ma_crossover_entries": entries,
        "ma_crossover_asks": ma,  # a candle a minute: every ask is a store
        "ma_crossover_writes_per_hour": round(ma / (len(candles) / 60), 3),
        # token_unlock's defaults: a 1.5 % trail armed at +3 %
        **tracker_asks(
            candles, ticks_per_s, ExitRules(*map(Decimal, ["2", "5", "1.5", "3"])), "unlock"
        ),
        # the most asks: a 0.5 % trail armed from the entry, no stop-loss or take-profit
        **tracker_asks(
            candles, ticks_per_s, ExitRules(*map(Decimal, ["0", "0", "0.5", "0"])), "tight"
        ),
        "max_writes_per_s": round(1 / INTERVAL_S, 1),
        "ticks_per_s": ticks_per_s,
        "interval_s": INTERVAL_S,
        "store_ms_sqlite": store_ms(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
