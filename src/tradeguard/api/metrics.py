"""Prometheus metrics of one node, in a registry of their own (one per app)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tradeguard.model.enums import TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.node.kill_restart import kill_engaged

if TYPE_CHECKING:
    from tradeguard.api.arb_figures import ArbFigures
    from tradeguard.node import TradingNode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STATE_VALUE = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_BREAKER_VALUE = {"closed": 0, "half_open": 1, "open": 2}
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_CYCLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _truncate(items: list[Counter], size: int) -> None:
    """Drop the counts held since `items` held `size` (a rolled-back block's)."""
    del items[size:]


class _Held(threading.local):
    """One thread's counts held for its open transaction's commit: another thread's commit
    or rollback neither adds nor drops them."""

    def __init__(self) -> None:
        self.counters: list[Counter] = []


class NodeMetrics:
    """Counters fed by the event bus, gauges read from the node at scrape time."""

    def __init__(
        self, node: TradingNode, lag_interval_s: float = 0.25, arb: ArbFigures | None = None
    ) -> None:
        self.node = node
        self.arb = arb
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.orders = Counter(
            "tradeguard_orders", "Order status changes, by status", ["venue", "status"], registry=r
        )
        self.fills = Counter("tradeguard_fills", "Fills applied", ["venue", "symbol"], registry=r)
        self.denials = Counter(
            "tradeguard_risk_denials", "Intents denied, by reason code", ["code"], registry=r
        )
        self.equity = Gauge("tradeguard_equity", "Equity in the valuation asset", registry=r)
        self.realized = Gauge("tradeguard_realized_pnl", "Realized P&L since start", registry=r)
        self.unrealized = Gauge("tradeguard_unrealized_pnl", "Unrealized P&L", registry=r)
        self.max_drawdown = Gauge(
            "tradeguard_max_drawdown_pct", "Deepest drawdown of the run, percent", registry=r
        )
        self.daily_pnl = Gauge("tradeguard_daily_pnl", "P&L since the UTC day started", registry=r)
        self.open_orders = Gauge("tradeguard_open_orders", "Open orders", registry=r)
        self.open_positions = Gauge("tradeguard_open_positions", "Open positions", registry=r)
        self.state = Gauge(
            "tradeguard_trading_state", "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED", registry=r
        )
        self.breakers = Gauge(
            "tradeguard_breaker_state",
            "Breakers: 0 closed, 1 half-open/warning, 2 open/tripped",
            ["breaker"],
            registry=r,
        )
        self.latency = Histogram(
            "tradeguard_venue_latency_seconds",
            "Venue call latency",
            ["venue", "op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            "tradeguard_event_loop_lag_seconds",
            "How late the event loop wakes a sleeping task",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_last = Gauge(
            "tradeguard_event_loop_lag_last_seconds", "The last event-loop lag measured", registry=r
        )
        self.arb_cycles = Counter(
            "tradeguard_arb_cycles",
            "Arbitrage cycles attempted since start, by outcome",
            ["strategy", "outcome"],
            registry=r,
        )
        self.arb_latency = Histogram(
            "tradeguard_arb_cycle_latency_seconds",
            "Arbitrage cycle latency, start to last order answer (cycles that sent an order)",
            ["strategy"],
            buckets=_CYCLE_BUCKETS,
            registry=r,
        )
        self.arb_profit = Gauge(
            "tradeguard_arb_actual_profit",
            "Summed actual profit of every recorded arbitrage cycle, in its start asset",
            ["strategy", "asset"],
            registry=r,
        )
        self.auth_failures = Counter(
            "tradeguard_api_auth_failures",
            "Refused API authentications, by channel (http, stream) and reason",
            ["channel", "reason"],
            registry=r,
        )
        self.lag_interval_s = lag_interval_s
        self.last_lag_s: float | None = None  # for the health check
        self._lag_task: asyncio.Task[None] | None = None
        # counts held for the open transaction's commit, per thread as transactions are
        self._held = _Held()
        self._attach(node)

    def _attach(self, node: TradingNode) -> None:
        node.bus.subscribe(self.on_event)
        node.orders.latency_listeners.append(self.on_latency)
        node.storage.add_after_commit_hook(self._release)

    # feeds --------------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Count order, fill, denial, refused-authentication and arbitrage-cycle events."""
        kind = event.kind
        if kind.startswith("order."):
            self._count(self.orders.labels(event.venue, kind[6:]))
        elif kind == EventKind.FILL:
            self._count(self.fills.labels(event.venue, event.symbol))
        elif kind == EventKind.RISK_DENIED:
            self.denials.labels(str(event.data.get("code", "UNKNOWN"))).inc()
        elif kind == "api.auth_failed":
            data = event.data
            self.auth_failures.labels(data.get("channel", "http"), data.get("reason", "")).inc()
        elif kind == EventKind.ARB_EXECUTION:
            outcome = str(event.data.get("outcome", "unknown"))
            self.arb_cycles.labels(event.strategy_id, outcome).inc()
            latency_ms = event.data.get("latency_ms")
            if outcome != "rejected" and isinstance(latency_ms, int | float):
                self.arb_latency.labels(event.strategy_id).observe(latency_ms / 1000)

    def _count(self, counter: Counter) -> None:
        """Count one event: told inside a transaction, at its commit, and not at all if it rolls
        back (`StorageCore.on_rollback`): a fill whose commit fails is counted when the venue's
        next report of it is booked."""
        storage = self.node.storage
        if not storage.keeps_undo:
            counter.inc()
            return
        counters = self._held.counters
        # an entry per count: a nested block that rolls back drops its own counts only
        storage.on_rollback(partial(_truncate, counters, len(counters)))
        counters.append(counter)

    def _release(self) -> None:
        """Add the counts of the transaction just committed on this thread (a storage
        after-commit hook: it runs on the committing thread)."""
        held = self._held
        if held.counters:
            counters, held.counters = held.counters, []
            for counter in counters:
                counter.inc()

    def on_latency(self, venue: str, op: str, seconds: float) -> None:
        """Record one venue call's latency."""
        self.latency.labels(venue, op).observe(seconds)

    async def _measure_lag(self) -> None:
        interval = self.lag_interval_s
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - started - interval)
            self.loop_lag.observe(lag)
            self.loop_lag_last.set(lag)
            self.last_lag_s = lag

    def start(self) -> None:
        """Start measuring event-loop lag in the running loop."""
        if self._lag_task is None:
            self._lag_task = asyncio.get_running_loop().create_task(
                self._measure_lag(), name="metrics:loop-lag"
            )

    async def stop(self) -> None:
        """Stop the lag task and detach from the node."""
        task, self._lag_task = self._lag_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.node.bus.unsubscribe(self.on_event)
        self.node.storage.remove_after_commit_hook(self._release)
        with contextlib.suppress(ValueError):
            self.node.orders.latency_listeners.remove(self.on_latency)

    # scrape -------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        node = self.node
        figures = node.figures()
        equity = figures.equity
        self.equity.set(float(equity))
        self.realized.set(float(figures.realized_pnl))
        self.unrealized.set(float(figures.unrealized_pnl))
        self.max_drawdown.set(float(figures.max_drawdown_pct))
        day_start = node.risk.day_start_equity
        self.daily_pnl.set(float(equity - day_start) if day_start is not None else 0.0)
        self.open_orders.set(len(node.orders.open))
        self.open_positions.set(len(node.portfolio.open_positions()))
        risk = node.risk
        self.state.set(_STATE_VALUE.get(risk.state, 2))
        snap = risk.snapshot()["breakers"]
        self.breakers.labels("consecutive_losses").set(
            2 if snap["consecutive_losses"]["tripped"] else 0
        )
        self.breakers.labels("daily_loss").set(
            2
            if snap["daily_loss"].get("halted_day")
            else (1 if snap["daily_loss"].get("warning_sent") else 0)
        )
        self.breakers.labels("kill_switch").set(2 if kill_engaged(risk) else 0)
        self.breakers.labels("stale_data").set(2 if snap["stale_symbols"] else 0)
        for venue, b in snap["venues"].items():
            self.breakers.labels(f"venue:{venue}").set(_BREAKER_VALUE.get(str(b["state"]), 2))

    async def collect_arb(self) -> None:
        """Read the summed profit of every strategy's recorded cycles (before `render`)."""
        if self.arb is None:
            return
        for sid in self.arb.strategy_ids():
            for asset, total in (await self.arb.summary(sid)).profit.items():
                self.arb_profit.labels(sid, asset).set(float(total))

    def render(self) -> bytes:
        """Return the text exposition of every metric."""
        self._refresh()
        return generate_latest(self.registry)
