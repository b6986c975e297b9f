"""TradingNode: builds every part from one config and runs the one order path.

Paper, backtest, sandbox and live differ only in the venues and the clock plugged in here.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.alerts import AlertManager, build_manager, daily_summary_event
from tradeguard.backtest.speed import ReplaySpeed
from tradeguard.bus import EventBus
from tradeguard.clock import Clock, SimulatedClock
from tradeguard.config import Config, DataConfig, VenueConfig
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.execution.ledger_audit import (
    START_BALANCES_KEY,
    LedgerAudit,
    audit_storage,
    stored_start_balances,
)
from tradeguard.execution.order_manager import OrderManager, SubmitResult
from tradeguard.marketdata.state import MarketState
from tradeguard.model.enums import OrderType, Side, TradingMode
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote
from tradeguard.model.money import ZERO
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.position import Position
from tradeguard.pacing import Pacer
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.replay_state import (
    CurveLog,
    done_at,
    load_replay_state,
    resume_index,
    save_replay_state,
)
from tradeguard.risk.engine import KILL_FLATTEN_TAG, RiskEngine
from tradeguard.risk.kill import KillRequest, KillSwitch
from tradeguard.storage.db import Database
from tradeguard.storage.lock import acquire_writer_lock
from tradeguard.storage.repository import RunState, Storage
from tradeguard.strategies.base import Strategy, create
from tradeguard.venues.base import Venue

log = logging.getLogger(__name__)

CURSOR_KEY = "replay.cursor_ms"
_DAY_MS = 86_400_000
STATS_KEY = "run.stats"
HEARTBEAT_KEY = "node.heartbeat"
EQUITY_KEY = "run.equity_curve"
RISK_STATE_KEY = "risk.state"
# What only a change of trading state moves: equal, the two copies tell the same story.
_RISK_STATE_IDENTITY = ("state", "state_ts", "state_by", "last_kill", "last_resume")


class StorageStateStore:
    """Risk-engine state persisted in the database's kv table.

    A change of trading state (ACTIVE/REDUCING/HALTED) is written at once; counter updates
    ride on the next journal commit or checkpoint, so the order path pays no extra commit.
    """

    def __init__(self, storage: Storage, key: str = RISK_STATE_KEY) -> None:
        self.storage = storage
        self.key = key
        self._pending: dict[str, Any] | None = None
        self._last_state: Any = None
        storage.add_commit_hook(self._write_pending)

    def load(self) -> dict[str, Any] | None:
        value = self.storage.kv_get(self.key)
        # A replay commits the engine's counters with every candle it commits; they are the
        # newest unless the state was changed since (a kill or resume from the command line).
        replay = load_replay_state(self.storage)
        newer = replay.get("risk") if replay is not None else None
        if isinstance(newer, dict) and (
            not isinstance(value, dict)
            or all(newer.get(k) == value.get(k) for k in _RISK_STATE_IDENTITY)
        ):
            value = newer
        if isinstance(value, dict):
            self._last_state = value.get("state")
            return value
        return None

    def save(self, state: dict[str, Any]) -> None:
        self._pending = state
        if state.get("state") != self._last_state or self.storage.in_transaction:
            self._last_state = state.get("state")
            with self.storage.transaction():
                pass  # the commit hook writes it

    def _write_pending(self) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            self.storage.kv_set(self.key, state)


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

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in self.__dict__.items()}

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

    @property
    def total_pnl(self) -> Decimal:
        return self.end_equity - self.start_equity

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = str(v) if isinstance(v, Decimal) else v
        out["total_pnl"] = str(self.total_pnl)
        return out


class _Context:
    """The StrategyContext handed to strategies: reads, an intent queue, execution gateways."""

    def __init__(self, node: TradingNode) -> None:
        self._node = node
        self.queue: list[OrderIntent] = []
        self._gateways: dict[tuple[str, str], OrderPathGateway] = {}

    def now_ms(self) -> int:
        return self._node.clock.now_ms()

    def position(self, strategy_id: str, venue: str, symbol: str) -> Position:
        return self._node.portfolio.position(venue, symbol, strategy_id)

    def free(self, venue: str, asset: str) -> Decimal:
        return self._node.portfolio.book(venue).free(asset)

    def equity(self) -> Decimal:
        return self._node.portfolio.equity()

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self._node.market.instrument(venue, symbol)

    def instruments(self, venue: str) -> list[Instrument]:
        return [i for (v, _), i in self._node.market.instruments.items() if v == venue]

    def quote(self, symbol: str) -> Quote | None:
        return self._node.market.quotes.get(symbol)

    def emit(self, intent: OrderIntent) -> None:
        self.queue.append(intent)

    def open_order_count(self, strategy_id: str, symbol: str) -> int:
        return self._node.orders.open_order_count(strategy_id, symbol)

    def execution_gateway(self, strategy_id: str, venue: str) -> OrderPathGateway:
        """Lend a multi-leg strategy one venue's order path (one gateway per strategy/venue)."""
        gateway = self._gateways.get((strategy_id, venue))
        if gateway is None:
            node = self._node
            if venue not in node.venues:
                raise ConfigError(
                    f"strategies[{strategy_id}]: venue {venue!r} is not configured; "
                    f"configured venues: {sorted(node.venues)}"
                )
            kind = "paper" if venue in node._paper else "ccxt"
            gateway = OrderPathGateway(
                node.orders, node.risk, venue, strategy_id, submit=node.submit, venue_kind=kind
            )
            self._gateways[(strategy_id, venue)] = gateway
        return gateway


@dataclass(slots=True)
class _TradeTotals:
    """A strategy's closed trades so far: how many, how many won, their P&L."""

    trades: int = 0
    wins: int = 0
    pnl: Decimal = ZERO

    def add(self, pnl: Decimal) -> None:
        self.trades += 1
        self.wins += pnl > 0
        self.pnl += pnl


def resolve_data_path(path: str) -> Path:
    """Resolve a data path: absolute, relative to cwd, or relative to the data directory."""
    from tradeguard.marketdata.loaders import default_data_dir

    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return default_data_dir() / path


class TradingNode:
    """One process trading one config: storage, venues, risk, order manager, strategies."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.mode = config.mode
        self.bus = EventBus()
        replaying = config.mode in (TradingMode.PAPER, TradingMode.BACKTEST)
        self.clock: Clock = clock or (SimulatedClock() if replaying else Clock())
        # One writer per database, taken before anything (migrations too) writes.
        self.writer_lock = acquire_writer_lock(config.node.database_url)
        self.db = Database(config.node.database_url)
        self.db.migrate()
        self.db.check_writable()
        self.storage = Storage(self.db)
        self.market = MarketState()
        self.portfolio = Portfolio(config.node.valuation_asset)
        self._risk_store = StorageStateStore(self.storage)
        self.risk = RiskEngine(
            config.risk,
            self.clock,
            self._risk_store,
            self.bus.publish,
            config.node.valuation_asset,
        )
        self.kill_switch = KillSwitch(self.risk, self.clock, config.node.kill_sentinel)
        self.venues: dict[str, Venue] = {}
        self.resumed = False
        self.stats = RunStats()
        self._events_this_run = 0
        # (ts, equity) sampled every `equity_sample_ms` of clock time, for charts and reports
        self.equity_curve: deque[tuple[int, Decimal]] = deque(maxlen=20_000)
        self.equity_sample_ms = 15 * 60_000
        self._next_sample = 0
        self._curve_log = CurveLog()  # the stored curve, and samples a commit still carries
        self._day: int | None = None
        self._day_start_equity = ZERO
        self._cursor: tuple[int, int] = (0, 0)  # (candle ts, candles of that ts done)
        self._candle_units = False  # a replay is committing whole candles
        self._strategy_states: dict[str, dict[str, Any]] = {}
        self._ctx = _Context(self)
        self.strategies: list[Strategy] = []
        self._by_symbol: dict[str, list[Strategy]] = {}
        self._paper: dict[str, Any] = {}
        self._audit_buf: list[Event] = []
        self._signal_ts: dict[str, int] = {}
        self._trade_ts: dict[str, int] = {}
        self._equity_dirty = True
        self._equity = ZERO
        self._held: frozenset[str] | None = None
        self._held_n = 0
        self._trough: tuple[Decimal, Decimal] | None = None  # (peak, lowest equity seen under it)
        self._run_states: dict[str, RunState] = {}
        # Called with (symbol, price) on every quote, after strategies (e.g. bots' exit rules).
        self.price_listeners: list[Callable[[str, Decimal], Awaitable[None]]] = []
        self.storage.add_commit_hook(self._write_audit)
        self.bus.subscribe(self._audit)
        self._build_venues()
        self.orders = OrderManager(
            storage=self.storage,
            venues=self.venues,
            risk=self.risk,
            portfolio=self.portfolio,
            market=self.market,
            bus=self.bus,
            clock=self.clock,
        )
        self.orders.fill_listeners.append(self._route_fill)
        self._restore()
        self._build_strategies()
        # Closed-trade totals per strategy: read from the journal once, then kept as trades close
        # (a checkpoint must not re-read every closed trade, which grows without bound).
        self._trade_totals: dict[str, _TradeTotals] = {}
        for sc in config.strategies:
            totals = self._trade_totals[sc.id] = _TradeTotals()
            for pnl in self.storage.closed_pnls(strategy_id=sc.id):
                totals.add(pnl)
        self._closed_seen = len(self.portfolio.closed_trades)
        from tradeguard.execution.timeouts import OrderTimeouts

        self.timeouts = OrderTimeouts.from_config(
            config.strategies, self.orders, self.market, self.submit
        )
        self.alerts: AlertManager | None = None
        if config.alerts.enabled:
            manager = build_manager(config.alerts)
            if manager.channels:
                self.alerts = manager
                self.bus.subscribe(manager.on_event)
                self.market.candle_listeners.append(manager.on_candle)

    # construction ------------------------------------------------------------------------------
    def _build_venues(self) -> None:
        for vc in self.config.venues:
            if vc.kind == "paper":
                self.venues[vc.name] = self._paper_venue(vc)
            elif vc.kind in ("kalshi", "polymarket"):
                from tradeguard.venues.pm_build import build_pm_venue

                creds = _vault_entry(vc.name, vc.credentials) if vc.credentials else None
                self.venues[vc.name] = build_pm_venue(vc, self.clock, creds)
            elif vc.kind == "uniswap_v2":
                from tradeguard.execution.dex_journal import StoredTxJournal
                from tradeguard.venues.uniswap_v2.build import build_uniswap_venue

                journal = StoredTxJournal(self.storage)
                self.venues[vc.name] = build_uniswap_venue(vc, journal, self.config.source_dir)
            else:
                from tradeguard.venues.ccxt_venue import build_ccxt_venue

                self.venues[vc.name] = build_ccxt_venue(vc, self.clock)

    def _paper_venue(self, vc: VenueConfig) -> Venue:
        from tradeguard.venues.paper import FillConfig, PaperVenue

        instruments: dict[str, Instrument] = {}
        for ic in vc.instruments:
            base, quote = ic.symbol.split("/")
            inst = Instrument(
                venue=vc.name, symbol=ic.symbol, base=base, quote=quote,
                price_tick=ic.price_tick, amount_step=ic.amount_step, min_amount=ic.min_amount,
                min_notional=ic.min_notional, maker_fee=ic.maker_fee, taker_fee=ic.taker_fee,
                kind="outcome" if vc.exchange in ("kalshi", "polymarket") else "spot",
            )  # fmt: skip
            instruments[ic.symbol] = inst
            self.market.add_instrument(inst)
        stored = self.storage.load_balances(vc.name)
        balances = {b.asset: b.total for b in stored} if stored else dict(vc.balances)
        fm = vc.fill_model
        paper_cls: Any = PaperVenue
        if vc.exchange in ("kalshi", "polymarket"):  # outcome contracts with that venue's fees
            from functools import partial

            from tradeguard.venues.outcome_paper import OutcomePaperVenue

            paper_cls = partial(OutcomePaperVenue, dialect=vc.exchange)
        venue = paper_cls(
            vc.name, instruments, balances, self.clock,
            FillConfig(
                slippage_bps=fm.slippage_bps,
                impact_bps_per_pct=fm.impact_bps_per_pct,
                max_participation=fm.max_participation_pct / 100,
            ),
        )  # fmt: skip
        self._paper[vc.name] = venue
        if not stored:
            self._open_ledger(vc.name, balances)
        return venue

    def _open_ledger(self, venue: str, balances: dict[str, Decimal]) -> None:
        """Start a paper venue's ledger: its balances, stored with them as the audit's start."""
        from tradeguard.model.balance import Balance

        rows = [Balance(venue, a, q) for a, q in balances.items()]
        self.portfolio.set_balances(venue, rows)
        starts = self.storage.kv_get(START_BALANCES_KEY)
        starts = dict(starts) if isinstance(starts, dict) else {}
        starts[venue] = {a: str(q) for a, q in balances.items()}
        with self.storage.transaction():
            self.storage.kv_set(START_BALANCES_KEY, starts)
            self.storage.upsert_balances(venue, rows, ts=self.clock.now_ms())

    def start_balances(self) -> dict[str, dict[str, Decimal]]:
        """Each venue's balances when its ledger began (paper: from config if never recorded)."""
        starts = stored_start_balances(self.storage)
        for vc in self.config.venues:
            if vc.kind == "paper" and vc.name not in starts:
                starts[vc.name] = dict(vc.balances)
        return starts

    def audit_ledger(self) -> LedgerAudit:
        """Check balances and open positions against their fills; halt with the figures if a
        paper venue's ledger differs.

        An exchange venue's stored balances are its own reports, which equal its fills only
        through the adjustments reconciliation records: a difference there is logged.
        """
        audit = audit_storage(self.storage, self.start_balances(), self.orders.balance_only)
        paper = audit.only(set(self._paper))
        if not paper.ok:
            log.error("%s", paper.reason())
            self.risk.halt(paper.reason(), "ledger_audit")
        elif not audit.ok:
            log.warning("%s", audit.reason())
        return audit

    def _restore(self) -> None:
        """Take back balances, positions, open orders and run figures from the database."""
        for b in self.storage.load_balances():
            self.portfolio.book(b.venue).set(b.asset, b.free, b.locked)
        for pos in self.storage.load_flat_positions() + self.storage.load_open_positions():
            self.portfolio.positions[(pos.venue, pos.symbol, pos.strategy_id)] = pos
        open_orders = self.storage.load_orders(open_only=True)
        self.orders.restore(open_orders)
        for name, paper in self._paper.items():
            last_o, last_t = self._restore_paper(name, paper)
            paper.resume_ids(last_o, last_t)
        for order in open_orders:
            paper = self._paper.get(order.venue)
            if paper is not None:
                paper.restore_order(order)
        stats = self.storage.kv_get(STATS_KEY)
        if isinstance(stats, dict):
            self.stats = RunStats.from_json(stats)
            self.resumed = True
        self._restore_replay_state()
        if isinstance(self.clock, SimulatedClock) and self.stats.last_ts:
            self.clock.advance_to(self.stats.last_ts)

    def _restore_paper(self, venue: str, paper: Any) -> tuple[int, int]:
        """Give a paper venue its net positions back from the fills; return the highest paper
        order and trade numbers stored, so ids never repeat after a restart."""
        last_o = last_t = 0
        prefix_o, prefix_t = f"{venue}-o", f"{venue}-t"
        for o in self.storage.load_orders(venue=venue):
            if o.venue_order_id.startswith(prefix_o):
                last_o = max(last_o, int(o.venue_order_id[len(prefix_o) :] or 0))
        net: dict[str, Decimal] = {}
        for f in self.storage.load_fills(venue=venue):
            if f.trade_id.startswith(prefix_t):
                last_t = max(last_t, int(f.trade_id[len(prefix_t) :] or 0))
            signed = f.amount if f.side is Side.BUY else -f.amount
            net[f.symbol] = net.get(f.symbol, ZERO) + signed
        for symbol, qty in net.items():
            if symbol in paper.instruments:
                paper.restore_position(symbol, qty)
        return last_o, last_t

    def _restore_replay_state(self) -> None:
        """Take back what the last commit of a replay wrote: stats, cursor, strategy states."""
        data = load_replay_state(self.storage) or {}
        tail = str(data.get("curve_tail") or "")
        self._curve_log.load(self.storage.kv_get(EQUITY_KEY), tail, self.equity_curve)
        if not data:
            self._cursor = (int(self.storage.kv_get(CURSOR_KEY) or 0), 0)
            return
        self.stats = RunStats.from_json(data.get("stats") or {})
        self.resumed = True
        self._cursor = (int(data.get("cursor", 0)), int(data.get("cursor_n", 0)))
        self._strategy_states = dict(data.get("strategies") or {})
        self._signal_ts.update(data.get("signal_ts") or {})
        self._trade_ts.update(data.get("trade_ts") or {})
        self._day = None if self.stats.day < 0 else self.stats.day
        self._day_start_equity = self.stats.day_start_equity
        self._next_sample = self.stats.next_sample_ts

    def _build_strategies(self) -> None:
        for sc in self.config.strategies:
            if not sc.enabled:
                continue
            try:
                from tradeguard.strategies import rehearsal  # noqa: F401  (registers itself)

                strat = create(
                    sc.kind, sc.id, sc.venue, sc.symbol, sc.params, self.config.source_dir
                )
            except ValueError as exc:
                raise ConfigError(f"strategies[{sc.id}]: {exc}") from None
            strat.bind(self._ctx)
            saved = self._strategy_states.get(sc.id)
            if saved is None:
                run = self.storage.load_run_state(sc.id)
                saved = run.state if run is not None else None
            if saved:
                strat.restore(saved)
            self.strategies.append(strat)
        self._index_symbols()

    def _index_symbols(self) -> None:
        """Route each symbol's market data to the strategies that trade it."""
        self._by_symbol = {}
        for strat in self.strategies:
            for symbol in strat.symbols:
                self._by_symbol.setdefault(symbol, []).append(strat)

    # events ------------------------------------------------------------------------------------
    def _audit(self, event: Event) -> None:
        """Buffer an audit event; it is written with the next journal commit (or at once if
        critical), so the order path pays one commit, not one per event."""
        self._audit_buf.append(event)
        if event.severity == "critical" or len(self._audit_buf) >= 500:
            self.flush_audit()

    def _write_audit(self) -> None:
        if self._audit_buf:
            batch, self._audit_buf = self._audit_buf, []
            self.storage.append_events(batch)

    def flush_audit(self) -> None:
        """Write buffered audit events now."""
        if self._audit_buf:
            with self.storage.transaction():
                pass  # the commit hook writes the buffer

    def invalidate_equity(self) -> None:
        """Drop the cached equity and held symbols; call after balances change outside a fill."""
        self._equity_dirty = True
        self._held = None

    def _route_fill(self, fill: Fill, order: Order | None) -> None:
        self.invalidate_equity()
        if order is None:
            return
        for strat in self.strategies:
            if strat.id == order.strategy_id:
                strat.on_fill(fill)
        self._trade_ts[order.strategy_id] = fill.ts

    def _run_state(self, strategy_id: str) -> RunState:
        # Read once: this node is the only writer of its strategies' run states.
        state = self._run_states.get(strategy_id)
        if state is None:
            state = self.storage.load_run_state(strategy_id)
            if state is None:
                state = RunState(strategy_id=strategy_id, status="running")
            state.updated_ts = 0  # each save stamps its own time
            self._run_states[strategy_id] = state
        return state

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect venues, load their instruments and reconcile before any new order."""
        if self.alerts is not None:
            await self.alerts.start()
        for venue in self.venues.values():
            await venue.connect()
            for inst in (await venue.load_instruments()).values():
                self.market.add_instrument(inst)
            adopt = getattr(venue, "adopt", None)  # venues that recompute ids from the journal
            if adopt is not None:
                for order in [o for o in self.orders.open.values() if o.venue == venue.name]:
                    adopt(order)
        from tradeguard.execution.reconcile import reconcile_and_gate
        from tradeguard.execution.settlement import settle_resolved

        await settle_resolved(self)  # before the balance check, which would book it as a gap
        self.reconcile_report = await reconcile_and_gate(self, "startup")
        self.ledger_report = self.audit_ledger()

    async def stop(self) -> None:
        """Close venue connections and write a last checkpoint."""
        if self.alerts is not None:
            await self.alerts.stop()
        for venue in self.venues.values():
            try:
                await venue.close()
            except Exception:
                log.exception("closing venue %s failed", venue.name)

    # running -----------------------------------------------------------------------------------
    async def submit(self, intent: OrderIntent) -> SubmitResult:
        """Send an intent down the one order path (risk -> journal -> venue)."""
        result = await self.orders.submit(intent)
        self.stats.orders += result.ok
        self.stats.denied += result.status == "denied"
        return result

    def candle_stream(self) -> Iterator[Candle]:
        from tradeguard.marketdata.loaders import iter_candles

        streams = []
        for dc in self.config.data:
            streams.append(self._load(dc, iter_candles))
        if len(streams) == 1:
            yield from streams[0]
            return
        import heapq

        yield from heapq.merge(*streams, key=lambda c: c.ts)

    def _load(self, dc: DataConfig, loader: Callable[..., Iterable[Candle]]) -> Iterable[Candle]:
        path = resolve_data_path(dc.path)
        return loader(path, symbol=dc.symbol)

    async def run(
        self, until_end: bool = True, progress: Callable[[int, int], None] | None = None
    ) -> RunSummary:
        """Replay the configured data through strategies, risk and the paper venue."""
        # What is alive now, then the data set, lives for the whole replay. Frozen, it is out of
        # the cyclic collector's sight: a full collection over it would stall the loop (and the
        # API it serves) for 50-100 ms. The collector gets it back when the replay ends.
        gc.freeze()
        try:
            with self.storage.holding_connection():
                return await self._replay(until_end, progress)
        finally:
            gc.unfreeze()

    @property
    def _atomic_candles(self) -> bool:
        # With only in-process paper venues, a candle's writes commit together or not at all.
        return bool(self._paper) and len(self._paper) == len(self.venues)

    async def _replay(
        self, until_end: bool, progress: Callable[[int, int], None] | None
    ) -> RunSummary:
        started = time.perf_counter()
        pacer = Pacer()
        # Parsed on the loop in slices, not in a thread that would hold the GIL for 5 ms at a
        # time against every API request.
        candles = await pacer.collect(self.candle_stream())
        gc.freeze()
        cursor, cursor_n = self._cursor
        if not self.stats.start_equity:
            self.stats.start_equity = self.portfolio.equity() if self.portfolio.marks else ZERO
        self.start_strategies()
        self._emit(
            EventKind.RUN_STARTED,
            {"mode": self.mode.value, "resumed": self.resumed, "cursor_ms": cursor},
        )
        start_idx = 0
        if cursor:
            start_idx = resume_index(candles, cursor, cursor_n)
            self._warm_up(candles, start_idx)
        atomic = self._atomic_candles
        unit = self.storage.unit_of_work() if atomic else nullcontext()
        self._candle_units = atomic
        try:
            with unit:
                await self._replay_loop(candles, start_idx, until_end, progress, pacer)
        finally:
            self._candle_units = False
        if progress is not None:
            progress(len(candles), len(candles))
        await self.stop_strategies()
        await pacer.pause()
        summary = self.summary(time.perf_counter() - started)
        self._emit(EventKind.RUN_FINISHED, summary.to_json())
        return summary

    async def _replay_loop(
        self,
        candles: list[Candle],
        start_idx: int,
        until_end: bool,
        progress: Callable[[int, int], None] | None,
        pacer: Pacer,
    ) -> None:
        total = len(candles)
        clock = self.clock
        sim = clock if isinstance(clock, SimulatedClock) else None
        market_on_candle = self.market.on_candle
        portfolio = self.portfolio
        by_symbol = self._by_symbol
        queue = self._ctx.queue
        paper_by_symbol = self._paper_for_symbols()
        every = self.config.node.checkpoint_every
        stats = self.stats
        # Order timeouts run on the replay's clock: a limit resting past its strategy's timeout
        # is cancelled (and maybe re-sent) at the first candle after it expired, as live does.
        timeouts = self.timeouts if self.timeouts.policies else None
        open_orders = self.orders.open
        marks = portfolio.marks
        observe_equity = self._observe_equity
        pace = self._replay_pace()
        unit = self.storage.unit_status()
        perf = time.perf_counter
        interval = self.config.node.replay_commit_interval_s
        commit_due = perf() + interval
        risk = self.risk
        committed_state = risk.state
        for i in range(start_idx, total):
            c = candles[i]
            symbol = c.symbol
            close_ts = c.close_ts
            if pace is not None:
                # Nothing waits uncommitted through a real-time pause.
                if unit.dirty and i > start_idx:
                    self._commit_candle(candles, i - 1)
                    commit_due = perf() + interval
                    committed_state = risk.state
                await pace.wait_until(close_ts, self._paced_stop)
            if sim is not None:
                sim.advance_to(close_ts)
            market_on_candle(c)
            marks[symbol] = c.close
            paper = paper_by_symbol.get(symbol)
            if paper is not None:
                paper.on_candle(c)
            if timeouts is not None and open_orders:
                await timeouts.sweep()
            observe_equity(close_ts, symbol)
            for strat in by_symbol.get(symbol, ()):
                strat.on_candle(c)
            if queue:
                await self._drain()
            stats.events += 1
            self._events_this_run += 1
            stats.last_ts = c.ts
            if not stats.first_ts:
                stats.first_ts = c.ts
            if (i + 1) % every == 0:
                self._checkpoint(c.ts, done_at(candles, i))
                if progress is not None:
                    progress(i + 1, total)
                await self.poll_kill_sentinel()
            # Commits fall between candles only, and need not follow every candle: a resumed
            # replay redoes the candles after its last commit exactly as they first ran. A
            # change of trading state is not kept waiting.
            if unit.dirty and (perf() >= commit_due or risk.state is not committed_state):
                self._commit_candle(candles, i)
                commit_due = perf() + interval
                committed_state = risk.state
            if not i & 7 and pacer.due():
                await pacer.pause()  # let the API, alerts and streams run between candles
            if not until_end and self._stop_requested:
                break
        if candles and start_idx < total:
            self._checkpoint(candles[-1].ts, done_at(candles, total - 1))

    _stop_requested = False

    def _replay_pace(self) -> ReplaySpeed | None:
        """node.replay_speed > 0 holds the replay to that many times real time."""
        speed = self.config.node.replay_speed
        return ReplaySpeed(speed) if speed > 0 else None

    async def _paced_stop(self) -> bool:
        """While a paced replay waits: watch the kill sentinel; tell whether to stop waiting."""
        await self.poll_kill_sentinel()
        return self._stop_requested

    def start_strategies(self) -> None:
        """Call every strategy's on_start, then route the symbols each now trades."""
        for strat in self.strategies:
            strat.on_start()
        self._index_symbols()

    async def stop_strategies(self) -> None:
        """Let every strategy finish what is in flight (bounded by itself), then stop it."""
        for strat in self.strategies:
            try:
                await strat.on_stopping()
            except Exception:
                log.exception("strategy %s: stopping failed", strat.id)
        for strat in self.strategies:
            strat.on_stop()

    def request_stop(self) -> None:
        """Ask a running live loop (or replay) to stop at the next step."""
        self._stop_requested = True

    async def run_live(self, duration_s: float | None = None) -> RunSummary:
        """Trade on venue streams until stopped: quotes -> strategies -> the order path.

        Background duties: the kill-switch sentinel, periodic reconciliation and checkpoints.
        """
        started = time.perf_counter()
        self._stop_requested = False
        self.start_strategies()
        # What start-up built (instruments, indexed cycles, restored orders) lives for the run:
        # out of the cyclic collector's sight, a full collection does not stall the loop over it.
        gc.freeze()
        self._emit(EventKind.RUN_STARTED, {"mode": self.mode.value, "resumed": self.resumed})
        tasks = [
            asyncio.create_task(self._pump_quotes(v, syms), name=f"quotes:{v.name}")
            for v, syms in self._streamed().items()
        ]
        tasks.append(asyncio.create_task(self._duties(), name="duties"))
        sync = self.balance_sync()
        if sync is not None:
            interval = self.config.reconcile.balance_sync_interval_s
            tasks.append(asyncio.create_task(sync.run(interval), name="balance-sync"))
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stop_requested:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                for t in tasks:
                    if t.done() and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                await asyncio.sleep(0.05)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop_strategies()
            self._checkpoint(self.clock.now_ms())
            gc.unfreeze()
        summary = self.summary(time.perf_counter() - started)
        self._emit(EventKind.RUN_FINISHED, summary.to_json())
        return summary

    def balance_sync(self) -> BalanceSync | None:
        """Build the periodic balance sync over the exchange venues, or None when it is off."""
        rc = self.config.reconcile
        venues = {n: v for n, v in self.venues.items() if n not in self._paper}
        if rc.balance_sync_interval_s <= 0 or not venues:
            return None
        return BalanceSync(
            venues,
            self.portfolio,
            self.storage,
            self.bus,
            self.clock,
            tolerance_pct=rc.balance_tolerance_pct,
            tolerance_abs=rc.balance_tolerance_abs,
            in_flight=self._venue_busy,
        )

    def _venue_busy(self, venue: str) -> str:
        # Balances move while orders are open or unresolved, and a fill's stream message may trail
        # the venue's balance by a moment: read them only when the venue has been quiet a while.
        orders = self.orders
        waiting = [o for o in (*orders.open.values(), *orders.unknown.values()) if o.venue == venue]
        if waiting:
            ids = ", ".join(sorted({f"{o.client_order_id} ({o.status.value})" for o in waiting}))
            return f"order(s) not finished or not resolved: {ids}"
        recent = self.clock.now_ms() - 2_000
        if any(o.venue == venue and o.updated_ts >= recent for o in orders.orders.values()):
            return "an order changed in the last 2 s; its fills may still be on the way"
        return ""

    def _streamed(self) -> dict[Venue, list[str]]:
        wanted: dict[Venue, dict[str, None]] = {}  # ordered sets
        for strat in self.strategies:
            wanted.setdefault(self.venues[strat.venue], {}).update(dict.fromkeys(strat.symbols))
        for venue in self.venues.values():  # venues that price their own markets (a DEX pool)
            own = getattr(venue, "quote_symbols", ())
            if own:
                wanted.setdefault(venue, {}).update(dict.fromkeys(own))
        return {venue: list(syms) for venue, syms in wanted.items() if syms}

    async def _pump_quotes(self, venue: Venue, symbols: list[str]) -> None:
        async for quote in venue.stream_quotes(symbols):
            await self.on_quote(quote)

    async def on_quote(self, quote: Quote) -> None:
        """Feed one best bid/ask update through market state, equity and strategies."""
        self.market.on_quote(quote)
        for paper in self._paper.values():
            paper.on_quote(quote)  # paper venues fill against the quotes the node is fed
        self.portfolio.marks[quote.symbol] = quote.mid
        self._observe_equity(quote.ts, quote.symbol)
        for strat in self._by_symbol.get(quote.symbol, ()):
            strat.on_ticker(quote)
        if self._ctx.queue:
            await self._drain()
        for listener in self.price_listeners:
            await listener(quote.symbol, quote.mid)
        self.stats.events += 1
        self._events_this_run += 1

    async def _duties(self) -> None:
        cfg = self.config.node
        next_ckpt = next_rec = next_kill = time.monotonic()
        next_rec += cfg.reconcile_interval_s
        while True:
            now = time.monotonic()
            if now >= next_kill:
                await self.poll_kill_sentinel()
                next_kill = now + cfg.kill_poll_interval_s
            if now >= next_ckpt:
                self._checkpoint(self.clock.now_ms())
                self.storage.kv_set(HEARTBEAT_KEY, {"pid": os.getpid(), "ts": self.clock.now_ms()})
                next_ckpt = now + cfg.checkpoint_interval_s
            if now >= next_rec:
                from tradeguard.execution.reconcile import reconcile_and_gate
                from tradeguard.execution.settlement import settle_resolved

                await settle_resolved(self)
                self.reconcile_report = await reconcile_and_gate(self, "periodic")
                next_rec = now + cfg.reconcile_interval_s
            await self.timeouts.sweep()
            if self.orders.unknown:
                await self.orders.retry_unknown()
            await asyncio.sleep(min(cfg.kill_poll_interval_s, 0.2))

    def _paper_for_symbols(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for dc in self.config.data:
            paper = self._paper.get(dc.venue)
            if paper is not None:
                out[dc.symbol] = paper
        return out

    def _warm_up(self, candles: list[Candle], start_idx: int) -> None:
        """Bring market state back to the last committed candle; strategies whose state was not
        restored whole are fed the candles they need, muted."""
        cold = [s for s in self.strategies if not s.restored_exactly]
        need = max((s.warmup_candles for s in cold), default=0)
        lo = max(0, start_idx - max(need, 1))
        for s in cold:
            s.muted = True
        last: dict[str, Candle] = {}
        try:
            for c in candles[lo:start_idx]:
                self.market.on_candle(c)
                self.portfolio.marks[c.symbol] = c.close
                last[c.symbol] = c
                for strat in self._by_symbol.get(c.symbol, ()):
                    if not strat.restored_exactly:
                        strat.on_candle(c)
        finally:
            for s in cold:
                s.muted = False
            self._ctx.queue.clear()
        paper_by_symbol = self._paper_for_symbols()
        for symbol, c in last.items():
            paper = paper_by_symbol.get(symbol)
            if paper is not None:
                paper.prime(c)

    def _observe_equity(self, ts: int, symbol: str = "") -> None:
        # Equity moves only when a held asset's mark or a balance changes; skip the sum (and the
        # run figures, which it alone moves) otherwise.
        held = self._held
        if held is None or self._held_n != len(self.portfolio.marks):
            held = self._held_symbols()
        if self._equity_dirty or symbol in held:
            self._equity = equity = self.portfolio.equity()
            self._equity_dirty = False
            self._track_drawdown(equity)
        else:
            equity = self._equity
        day = ts // _DAY_MS
        if day != self._day:
            if self._day is not None:
                self._daily_summary(self._day, ts, equity)
            self._day = day
            self._day_start_equity = equity
        if ts >= self._next_sample:
            self.equity_curve.append((ts, equity))
            self._next_sample = ts + self.equity_sample_ms
        self.risk.observe_equity(ts, equity)

    def _track_drawdown(self, equity: Decimal) -> None:
        stats = self.stats
        if not stats.start_equity:
            stats.start_equity = equity
        peak = stats.peak_equity
        if equity > peak:
            stats.peak_equity = equity
        elif peak and (
            self._trough is None or self._trough[0] is not peak or equity < self._trough[1]
        ):
            # Under one peak the drawdown grows only at a new low: between lows nothing to do.
            self._trough = (peak, equity)
            dd = (peak - equity) / peak * 100
            if dd > stats.max_drawdown_pct:
                stats.max_drawdown_pct = dd

    def _held_symbols(self) -> frozenset[str]:
        """Symbols whose base asset this node holds (or owes) on any venue."""
        held = self._held
        if held is None or self._held_n != len(self.portfolio.marks):
            self._held_n = len(self.portfolio.marks)
            assets = {b.asset for b in self.portfolio.all_balances() if b.total}
            held = self._held = frozenset(
                s for s in self.portfolio.marks if s.split("/")[0] in assets
            )
        return held

    def _daily_summary(self, day: int, ts: int, equity: Decimal) -> None:
        """Publish the P&L summary of the UTC day that just ended (audit log and alerts)."""
        label = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
        self.bus.publish(
            daily_summary_event(
                label, ts, equity - self._day_start_equity, equity=equity,
                start_equity=self._day_start_equity,
                open_positions=len(self.portfolio.open_positions()),
                currency=self.config.node.valuation_asset,
            )
        )  # fmt: skip

    async def _drain(self) -> None:
        queue = self._ctx.queue
        while queue:
            intents = queue[:]
            queue.clear()
            for intent in intents:
                self._record_signal(intent)
                await self.submit(intent)

    def _record_signal(self, intent: OrderIntent) -> None:
        self._signal_ts[intent.strategy_id] = self.clock.now_ms()

    def _checkpoint(self, ts: int, done_at_ts: int = 0) -> None:
        with self.storage.transaction():
            self.storage.kv_set(CURSOR_KEY, ts)
            self.storage.kv_set(STATS_KEY, self._stats_json())
            for strat in self.strategies:
                state = self._run_state(strat.id)
                self._fill_run_state(state, strat.id)
                state.cursor_ts = ts
                state.state = strat.state()
                if strat.id in self._signal_ts:
                    state.last_signal_ts = self._signal_ts[strat.id]
                if strat.id in self._trade_ts:
                    state.last_trade_ts = self._trade_ts[strat.id]
                self.storage.save_run_state(state)
            for pos in self.portfolio.open_positions():
                self.storage.save_position(pos, self.portfolio.marks.get(pos.symbol))
            self._save_replay_state(ts, done_at_ts, fold=True)
        self.risk.flush()

    def _commit_candle(self, candles: list[Candle], i: int) -> None:
        """Commit everything candle `i` changed, with the cursor at that candle."""
        self._save_replay_state(candles[i].ts, done_at(candles, i))
        self.storage.commit_unit()

    def _stats_json(self) -> dict[str, Any]:
        stats = self.stats
        stats.day = -1 if self._day is None else self._day
        stats.day_start_equity = self._day_start_equity
        stats.next_sample_ts = self._next_sample
        return stats.to_json()

    def _save_replay_state(self, ts: int, done_at_ts: int, fold: bool = False) -> None:
        # One row, so a candle that changed something pays one extra write for all of it.
        curve = self._curve_log
        curve.take(self.equity_curve)
        if curve.fold_due(fold):
            self.storage.kv_set(EQUITY_KEY, curve.fold())
        state = {
            "cursor": ts,
            "cursor_n": done_at_ts,
            "stats": self._stats_json(),
            "strategies": {s.id: s.state() for s in self.strategies},
            "signal_ts": self._signal_ts,
            "trade_ts": self._trade_ts,
            "curve_tail": curve.tail_text(),
        }
        if self._candle_units:
            # Written with every commit of the replay, so never older than the engine's own row.
            state["risk"] = self.risk.to_state()
        save_replay_state(self.storage, state, ts)

    def _fill_run_state(self, state: RunState, strategy_id: str) -> None:
        closed = self.portfolio.closed_trades
        for trade in closed[self._closed_seen :]:
            self._trade_totals.setdefault(trade.strategy_id, _TradeTotals()).add(trade.pnl)
        self._closed_seen = len(closed)
        totals = self._trade_totals.get(strategy_id) or _TradeTotals()
        state.total_trades = totals.trades
        state.winning_trades = totals.wins
        state.losing_trades = totals.trades - totals.wins
        state.total_pnl = totals.pnl

    # control -----------------------------------------------------------------------------------
    async def kill(self, reason: str, by: str, flatten: bool = False) -> dict[str, Any]:
        """Halt, cancel every open order on every venue, optionally flatten; report it all."""
        request = self.kill_switch.trigger(reason, by, flatten)
        return await self._execute_kill(request)

    async def _execute_kill(self, request: KillRequest) -> dict[str, Any]:
        report = self.kill_switch.report(request)
        cancelled, failed = await self.orders.cancel_all()
        report.cancelled.extend(cancelled)
        report.failed.extend(failed)
        if request.flatten:
            for pos in self.portfolio.open_positions():
                intent = OrderIntent(
                    strategy_id=pos.strategy_id or "kill", venue=pos.venue, symbol=pos.symbol,
                    side=_closing_side(pos), amount=abs(pos.quantity), type=OrderType.MARKET,
                    reduce_only=True, tag=KILL_FLATTEN_TAG,
                    signal={"reason": "kill switch flatten"},
                )  # fmt: skip
                result = await self.orders.submit(intent)
                if result.ok:
                    report.closed_positions.append(f"{pos.venue}:{pos.symbol}")
                else:
                    report.failed.append((f"{pos.venue}:{pos.symbol}", result.reason))
        self.kill_switch.finish(report)
        self.flush_audit()
        sentinel = self.kill_switch.sentinel_path
        if sentinel is not None:
            sentinel.unlink(missing_ok=True)
        return report.to_json()

    async def poll_kill_sentinel(self) -> dict[str, Any] | None:
        """Run the kill switch if the sentinel file has appeared; return its report."""
        request = self.kill_switch.poll()
        if request is None:
            return None
        return await self._execute_kill(request)

    def summary(self, elapsed_s: float = 0.0) -> RunSummary:
        pnls = self.storage.closed_pnls()
        fill_count, fees = self.storage.fill_fees()
        realized = sum(pnls, ZERO)
        open_pos = []
        for p in self.portfolio.open_positions():
            mark = self.portfolio.marks.get(p.symbol, p.avg_entry)
            open_pos.append({
                "symbol": p.symbol, "venue": p.venue, "strategy": p.strategy_id,
                "quantity": str(p.quantity), "entry": str(p.avg_entry), "mark": str(mark),
                "unrealized_pnl": str(p.unrealized_pnl(mark).quantize(Decimal("0.01"))),
            })  # fmt: skip
        return RunSummary(
            mode=self.mode.value,
            events=self._events_this_run,
            events_total=self.stats.events,
            orders=self.storage.count_orders(),
            denied=self.stats.denied,
            fills=fill_count,
            closed_trades=len(pnls),
            winning_trades=sum(1 for p in pnls if p > 0),
            losing_trades=sum(1 for p in pnls if p <= 0),
            realized_pnl=realized,
            unrealized_pnl=self.portfolio.unrealized_pnl(),
            fees=fees,
            start_equity=self.stats.start_equity,
            end_equity=self.portfolio.equity(),
            max_drawdown_pct=self.stats.max_drawdown_pct,
            trading_state=self.risk.state.value,
            resumed=self.resumed,
            first_ts=self.stats.first_ts,
            last_ts=self.stats.last_ts,
            elapsed_s=elapsed_s,
            open_positions=open_pos,
        )

    def _emit(self, kind: str, data: dict[str, Any], severity: str = "info") -> None:
        self.bus.publish(Event(kind=kind, ts=self.clock.now_ms(), data=data, severity=severity))

    def close(self) -> None:
        try:
            self.orders.flush()
            self.risk.flush()
            self.flush_audit()
            self.db.dispose()
        finally:
            if self.writer_lock is not None:
                self.writer_lock.release()

    # paper account reset ------------------------------------------------------------------------
    async def reset_paper_account(self, by: str) -> dict[str, Any]:
        """Cancel open paper orders, close position records and restore the configured balances.

        A paper venue with an order that could not be cancelled is left as it is (listed under
        `failed`); the report names what was cancelled, closed and restored.
        """
        names = [vc.name for vc in self.config.venues if vc.kind == "paper"]
        report: dict[str, Any] = {
            "venues": names,
            "cancelled": [],
            "closed_positions": [],
            "failed": [],
            "balances": {},
        }
        ready = []  # venues with nothing working any more: only those are reset
        for name in names:
            cancelled, failed = await self.orders.cancel_all(name)
            report["cancelled"].extend(cancelled)
            report["failed"].extend({"id": i, "reason": r} for i, r in failed)
            if failed:
                reason = f"not reset: {len(failed)} order(s) could not be cancelled"
                report["failed"].append({"id": name, "reason": reason})
            else:
                ready.append(name)
        now = self.clock.now_ms()
        report["closed_positions"] = self._close_paper_positions(ready, now)
        self._restore_paper_balances(ready, now, report)
        self.risk.invalidate_exposure()
        self.invalidate_equity()
        self._emit("paper.reset", {"by": by, **report}, "warning")
        return report

    def _close_paper_positions(self, venues: list[str], now: int) -> list[str]:
        from tradeguard.model.position import ClosedTrade

        closed = []
        for key, pos in list(self.portfolio.positions.items()):
            if pos.venue not in venues:
                continue
            if pos.quantity != 0:
                mark = self.portfolio.marks.get(pos.symbol, pos.avg_entry)
                pnl = pos.unrealized_pnl(mark)
                entry_notional = abs(pos.quantity) * pos.avg_entry
                trade = ClosedTrade(
                    venue=pos.venue,
                    symbol=pos.symbol,
                    strategy_id=pos.strategy_id,
                    side=Side.BUY if pos.quantity > 0 else Side.SELL,
                    entry_price=pos.avg_entry,
                    exit_price=mark,
                    amount=abs(pos.quantity),
                    pnl=pnl,
                    pnl_pct=pnl / entry_notional * 100 if entry_notional else ZERO,
                    opened_ts=pos.opened_ts,
                    closed_ts=now,
                )
                self.storage.close_position(trade, pos)
                closed.append(f"{pos.venue}:{pos.symbol}:{pos.strategy_id}")
            del self.portfolio.positions[key]
        return closed

    def _restore_paper_balances(self, venues: list[str], now: int, report: dict[str, Any]) -> None:
        from tradeguard.model.balance import Balance
        from tradeguard.model.errors import DefinitiveVenueError
        from tradeguard.venues.paper import PaperVenue

        for vc in self.config.venues:
            venue = self.venues.get(vc.name)
            if vc.name not in venues or not isinstance(venue, PaperVenue):
                continue
            configured = {a: Decimal(q) for a, q in vc.balances.items()}
            try:
                restored = venue.reset_balances(configured)
            except DefinitiveVenueError as exc:
                report["failed"].append({"id": vc.name, "reason": str(exc)})
                continue
            # The ledger follows the venue, and also forgets assets only the ledger knew.
            book = self.portfolio.book(vc.name)
            held = {b.asset for b in restored}
            restored += [Balance(vc.name, a, ZERO) for a in book.assets() if a not in held]
            self.portfolio.set_balances(vc.name, restored)
            self.orders.discard_pending_balances(vc.name)
            self.storage.upsert_balances(vc.name, restored, ts=now)
            report["balances"][vc.name] = {b.asset: str(b.total) for b in restored}


def _closing_side(pos: Position) -> Side:
    return Side.SELL if pos.quantity > 0 else Side.BUY


def _vault_entry(venue: str, entry: str) -> Any:
    """Decrypt one vault entry for a venue (TG_VAULT_PATH, TG_VAULT_PASSPHRASE or a prompt)."""
    import os

    from tradeguard.secrets import Vault, read_passphrase
    from tradeguard.secrets.vault import default_vault_path

    vault = Vault(default_vault_path(dict(os.environ)))
    if not vault.exists:
        raise ConfigError(
            f"venue {venue}: credentials={entry!r} but the vault {vault.path} does not exist "
            "(set TG_VAULT_PATH or run `tradeguard keys add`)"
        )
    vault.unlock(read_passphrase(dict(os.environ)))
    try:
        return vault.get(entry)
    finally:
        vault.lock()
