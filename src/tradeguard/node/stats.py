"""Run figures kept across restarts, and the end-of-run summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO, plain

CURSOR_KEY = "replay.cursor_ms"
STATS_KEY = "run.stats"
HEARTBEAT_KEY = "node.heartbeat"
KILL_SENTINEL_KEY = "node.kill_sentinel"  # the absolute path the running node watches
EQUITY_KEY = "run.equity_curve"
FIGURES_KEY = "run.figures"  # the last checkpoint's Figures, for readers of the database


@dataclass
class RunStats:
    """Figures for the end-of-run summary; kept across restarts."""

    start_equity: Decimal = ZERO
    peak_equity: Decimal = ZERO
    max_drawdown_pct: Decimal = ZERO
    events: int = 0
    orders: int = 0
    denied: int = 0
    first_ts: int = 0
    last_ts: int = 0
    # the node's daily-summary day and its opening equity, and the next equity-curve sample
    day: int = -1
    day_start_equity: Decimal = ZERO
    next_sample_ts: int = 0

    def saw(self, ts: int, close_ts: int = 0) -> None:
        """Widen the period the run's market events cover to an event opening at `ts` and
        closing at `close_ts` (epoch ms; a quote: an instant, its `ts`). Every run's period,
        live or replayed, is one rule: the earliest open time to the latest close time (a
        replay widens it inline, backtest.replay and backtest.bulk)."""
        if ts > 0:
            if ts < self.first_ts or not self.first_ts:
                self.first_ts = ts
            self.last_ts = max(self.last_ts, close_ts or ts)

    def to_json(self) -> dict[str, Any]:
        return {k: plain(v) if isinstance(v, Decimal) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunStats:
        s = cls()
        for k, v in data.items():
            if hasattr(s, k):
                cur = getattr(s, k)
                setattr(s, k, Decimal(v) if isinstance(cur, Decimal) else v)
        return s


@dataclass
class RunSummary:
    mode: str
    events: int
    events_total: int
    orders: int
    denied: int
    fills: int
    closed_trades: int
    winning_trades: int
    losing_trades: int
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    start_equity: Decimal
    end_equity: Decimal
    max_drawdown_pct: Decimal
    trading_state: str
    resumed: bool
    first_ts: int
    last_ts: int
    elapsed_s: float
    open_positions: list[dict[str, str]] = field(default_factory=list)
    # why `end_equity` is not a real figure yet ("" when it is): a venue's holdings at another
    # venue's price, or holdings no price values (counted at zero), e.g. a leg held at the stop
    equity_provisional: str = ""
    # a replay: the candles of its data done when it ended (those of earlier runs of a resumed
    # one too) and the data's candles; a stop asked for ends before the end (41 of 72); 0 and 0
    # for a live or sandbox run
    candles_done: int = 0
    candles_total: int = 0
    # the asset every money figure above is in (node.valuation_asset): "P&L 12.3" names no unit
    currency: str = ""

    @property
    def total_pnl(self) -> Decimal:
        return self.end_equity - self.start_equity

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = plain(v) if isinstance(v, Decimal) else v
        out["total_pnl"] = plain(self.total_pnl)
        return out


def wall_ms() -> int:
    """Return the wall-clock time in milliseconds (heartbeats are compared across processes)."""
    return int(time.time() * 1000)


@dataclass
class Liveness:
    """What the live loop says of itself: whether it runs, its last beat and the loop's lag."""

    started: bool = False  # the live loop ran in this process
    running: bool = False
    beat_ms: int = 0  # wall clock of the last beat
    lag_s: float | None = None  # how late the loop last woke the live duties
    ping: Any = None  # the dead-man ping of this run (alerts.deadman.DeadManPing), if any

    def start(self) -> None:
        self.started = self.running = True
        self.beat_ms = wall_ms()

    def beat(self, lag_s: float | None = None) -> None:
        self.beat_ms = wall_ms()
        if lag_s is not None:
            self.lag_s = lag_s

    def stop(self) -> None:
        self.running = False

    def age_s(self, now_ms: int) -> float | None:
        """Seconds since the last beat, None when the live loop never ran here."""
        return max(0.0, (now_ms - self.beat_ms) / 1000) if self.started else None
