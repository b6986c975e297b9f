"""TradingNode: one process trading one config along the one order path.

Paper, backtest, sandbox and live differ only in the venues and the clock plugged in; the
builder wires the parts, the replay loop lives in `backtest.replay`, the live loop in `live`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from tradeguard.backtest.replay_state import CurveLog
from tradeguard.bus import EventBus
from tradeguard.clock import Clock, SimulatedClock
from tradeguard.config import Config
from tradeguard.execution.ledger_audit import (
    LedgerAudit,
    audit_storage,
    record_lot_steps,
    stored_start_balances,
)
from tradeguard.execution.order_manager import OrderManager, SubmitResult
from tradeguard.execution.timeouts import OrderTimeouts
from tradeguard.marketdata.state import MarketState
from tradeguard.model.enums import TradingMode
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.market import Candle, Quote
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order, OrderIntent
from tradeguard.model.sealed import sealed_intent
from tradeguard.node import checkpoint as ckpt
from tradeguard.node.builder import assemble
from tradeguard.node.cash_flows import FlowWatch, apply_cash_flows
from tradeguard.node.context import NodeContext
from tradeguard.node.credentials import vault_session
from tradeguard.node.equity_record import daily_summary, equity_provisional, observe_equity
from tradeguard.node.held import HeldSymbols
from tradeguard.node.interrupt import LiveInterrupts
from tradeguard.node.kill_restart import reconciled
from tradeguard.node.kill_run import execute_kill
from tradeguard.node.last_writes import close_writes, start_writes
from tradeguard.node.routing import SourceIndex, source_index, strategies_for
from tradeguard.node.state_store import StorageStateStore
from tradeguard.node.stats import Liveness, RunStats, RunSummary
from tradeguard.portfolio.equity import EquityTracker, drawdown_pct
from tradeguard.portfolio.figures import Figures, TradeTotals
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.kill import KillRequest, KillSwitch
from tradeguard.storage.db import Database
from tradeguard.storage.lock import WriterLock
from tradeguard.storage.repository import RunState, Storage
from tradeguard.strategies.base import Strategy
from tradeguard.venues.base import Venue

if TYPE_CHECKING:  # the live loop's parts load when a live run or sandbox first needs them
    from tradeguard.alerts import AlertManager
    from tradeguard.execution.balance_sync import BalanceSync
    from tradeguard.execution.reference_prices import ReferencePrices
    from tradeguard.marketdata.live.hub import LiveHub
    from tradeguard.node.audit_log import AuditLog
    from tradeguard.node.duties import KillRunner
    from tradeguard.node.state_saves import StateSaves
    from tradeguard.portfolio.arb_summary import ArbSummary, Settled

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
_STREAMING = (TradingMode.SANDBOX, TradingMode.LIVE)


class TradingNode:
    """One process trading one config: storage, venues, risk, order manager, strategies."""

    # A run database no crash recovers (in-memory rollback journal, no syncs): only a run that
    # is made again from the start, never resumed (the backtest runner's), may set this.
    disposable_db: ClassVar[bool] = False

    # the parts the builder wires
    writer_lock: WriterLock | None
    db: Database
    storage: Storage
    audit: AuditLog
    market: MarketState
    portfolio: Portfolio
    risk: RiskEngine
    kill_switch: KillSwitch
    orders: OrderManager
    timeouts: OrderTimeouts
    _risk_store: StorageStateStore
    # risk.mark_guard.take: whether a new price becomes the mark or is held as a suspect print
    _take_mark: Callable[[str, str, Decimal, int], bool]
    _take_bar: Callable[[str, str, Decimal, int, int, int], bool]  # the same, a bar's close

    def __init__(
        self,
        config: Config,
        clock: Clock | None = None,
        venues: dict[str, Venue] | None = None,
    ) -> None:
        self.config = config
        self.mode = config.mode
        self.bus = EventBus()
        replaying = config.mode in (TradingMode.PAPER, TradingMode.BACKTEST)
        self.clock: Clock = clock or (SimulatedClock() if replaying else Clock())
        self.venues: dict[str, Venue] = {}
        self.resumed = False
        # False until start() has loaded the venues' markets: the API may serve before then
        self.markets_loaded = False
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
        self._cursor_by_close = True  # False: a stored cursor recording no order (open time?)
        self._resume_marks: dict[str, Any] | None = None  # a replay's stored mark guard
        self._candle_units = False  # a replay is committing whole candles
        self._strategy_states: dict[str, dict[str, Any]] = {}
        self._ctx = NodeContext(self)
        self.interrupts = LiveInterrupts(self)  # a live run's Ctrl-C (node.interrupt)
        self.strategies: list[Strategy] = []
        # strategies trading as the signal bot of their name (`bot = true`): the bot's gate first
        self.bot_strategies = frozenset(s.id for s in config.strategies if s.bot)
        self._by_symbol: dict[str, list[Strategy]] = {}
        self._by_source: SourceIndex = {}  # the strategies each venue's data feeds
        self._paper: dict[str, Any] = {}
        self._reference: ReferencePrices | None = None
        self.data_venues: dict[str, Any] = {}  # `data_only` ccxt venues: market data alone
        self._signal_ts: dict[str, int] = {}
        self._trade_ts: dict[str, int] = {}
        self._equity_dirty = True
        self._equity = ZERO
        self._held: frozenset[str] | None = None
        self._held_n = 0  # the portfolio's `marks_version` the set was counted at
        self._held_tagged = False  # whether venues had marks of their own when it was counted
        self._held_of = HeldSymbols().of
        self.run_equity = EquityTracker()  # equity, peak, max drawdown (from the run figures)
        self.flow_watch = FlowWatch()  # what the count of outside money waits on
        self._fees_before = ZERO  # fees of the fills stored before this process started
        self._run_states: dict[str, RunState] = {}
        self._trade_totals: dict[str, TradeTotals] = {}
        self.arb_cycles: dict[str, ArbSummary] = {}  # per strategy (legs open no positions)
        self._closed_seen = 0
        # Called with (symbol, price) on every quote, after strategies (e.g. bots' exit rules).
        self.price_listeners: list[Callable[[str, Decimal, str], Awaitable[None]]] = []
        self.bot_exits: Any = None  # the bots' server-side exits (bots.node_exits), built with it
        self.exit_siblings: Any = None  # exits held to the position (node.exit_siblings)
        self.alerts: AlertManager | None = None
        self.live: LiveHub | None = None  # live market data (sandbox/live), built on first use
        self.liveness = Liveness()  # the live loop's heartbeat, read by the health check
        self.kill_runner: KillRunner | None = None  # the live loop's kills, while it runs
        self.state_saves: StateSaves | None = None  # the live loop's prompt state stores
        with vault_session():  # one vault unlock for every venue and alert secret
            assemble(self, venues)

    def start_balances(self) -> dict[str, dict[str, Decimal]]:
        """Each venue's balances when its ledger began (paper: from config if never recorded)."""
        starts = stored_start_balances(self.storage)
        for vc in self.config.venues:
            if vc.kind == "paper" and vc.name not in starts:
                starts[vc.name] = dict(vc.balances)
        return starts

    def audit_ledger(self) -> LedgerAudit:
        """Check balances and open positions against their fills; halt with the figures if a
        venue's ledger differs.

        An exchange venue's stored balances are its own reports: it is checked once start-up
        reconciliation has stored them (not while they wait for an unresolved order, nor when
        it failed, which halts anyway), within the fees' rounding.
        """
        rounded = set(self.venues) - set(self._paper)  # every exchange rounds its fees
        exchanges = set(rounded)
        report = getattr(self, "reconcile_report", None)
        if report is not None:
            exchanges -= {d["venue"] for d in report.balances_deferred}
            exchanges -= {v for v in exchanges if f"venue {v}:" in report.reason}
        audit = audit_storage(
            self.storage, self.start_balances(), self.orders.balance_only, rounded=rounded,
            lot_steps=self.portfolio.lot_steps,
        )  # fmt: skip
        checked = audit.only(set(self._paper) | exchanges)
        if not checked.ok:
            log.error("%s", checked.reason())
            self.risk.halt(checked.reason(), "ledger_audit")
        elif not audit.ok:
            log.warning("%s", audit.reason())
        return audit

    def _index_symbols(self) -> None:
        """Route each symbol's market data to the strategies that trade it."""
        self._by_symbol = {}
        for strat in self.strategies:
            for symbol in strat.symbols:
                self._by_symbol.setdefault(symbol, []).append(strat)
        self._by_source = source_index(self.strategies, self.market)

    # events ------------------------------------------------------------------------------------
    def flush_audit(self) -> None:
        """Write buffered audit events now."""
        self.audit.flush()

    def invalidate_equity(self) -> None:
        """Drop the cached equity and held symbols; call after balances change outside a fill."""
        self._equity_dirty = True
        self._held = None

    def _route_fill(self, fill: Fill, order: Order | None) -> None:
        self.invalidate_equity()
        if order is None:
            return
        for strat in self.strategies:
            if strat.id == order.strategy_id:  # the fill is committed: a stop may abandon it
                self.interrupts.bounded(strat.id, strat.on_fill, fill)
        self._trade_ts[order.strategy_id] = fill.ts

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect venues, load their instruments and reconcile before any new order."""
        from tradeguard.node.startup import before_trading, connect_venues

        if self.alerts is not None:
            await self.alerts.start()
        await connect_venues(self)
        record_lot_steps(self.storage, self.portfolio.lot_steps)
        if len(self.venues) > len(self._paper) or self.data_venues:
            self.reference_prices().load()  # held assets valued before any equity is read
        from tradeguard.execution.reconcile import reconcile_and_gate
        from tradeguard.execution.settlement import settle_resolved

        with start_writes("the start-up settlement"):  # before the balance check (a gap)
            await settle_resolved(self)
        self.start_reconciling = True  # a listener leaves what it would send to before_trading
        try:
            self.reconcile_report = await reconcile_and_gate(self, "startup")
        finally:
            self.start_reconciling = False
        with start_writes("counting the cash flows booked while down"):
            apply_cash_flows(self)  # transfers booked while down, or before a crash, once
        self.ledger_report = self.audit_ledger()
        await before_trading(self, self.mode in _STREAMING)
        if self.mode in _STREAMING:
            self.keep_states_saved()
        self.markets_loaded = True

    def keep_states_saved(self) -> StateSaves:
        """Store a strategy's state at the end of a live step when it asks (node.state_saves)."""
        if self.state_saves is None:
            from tradeguard.node.state_saves import StateSaves

            self.state_saves = StateSaves(self, self.config.node.state_save_interval_s)
        return self.state_saves

    async def stop(self) -> None:
        """Stop the node's background work and close venue connections (the live loop, not
        this, writes the last checkpoint)."""
        if self.exit_siblings is not None:
            await self.exit_siblings.stop()  # no retry sends an order after this
        if self.live is not None:
            await self.live.stop()
        if self.alerts is not None:
            await self.alerts.stop()
        for venue in (*self.venues.values(), *self.data_venues.values()):
            try:
                await venue.close()
            except Exception:
                log.exception("closing venue %s failed", venue.name)

    # running -----------------------------------------------------------------------------------
    async def submit(
        self,
        intent: OrderIntent,
        before_send: Callable[[Order], None] | None = None,
        gate: Callable[[], tuple[str, str] | None] | None = None,
    ) -> SubmitResult:
        """Send an intent down the one order path (risk -> journal -> venue); `before_send`
        as in `OrderManager.submit`. `gate()` may deny the intent, (code, reason), with no
        await between it and the journal: what it reads (open orders, positions) holds. The
        intent's signal is sealed first (an API's, a bot's, as emit() seals a strategy's)."""
        intent = sealed_intent(intent)
        await self.ensure_market_data(intent.venue, intent.symbol)
        why = gate() if gate is not None else None
        if why is not None:
            result = self.orders.refuse(intent, *why)
        else:
            result = await self.orders.submit(intent, before_send)
        self.stats.orders += result.ok
        self.stats.denied += result.status == "denied"
        return result

    async def ensure_market_data(self, venue: str, symbol: str) -> None:
        """Subscribe `symbol` on demand when nobody streams it (an HTTP order, an unwind at start)
        for a reference price; never one the venue does not list (stale for good: health 503)."""
        listed = self.market.instrument(venue, symbol) is not None
        if self.mode in _STREAMING and listed and self.market.last_update_ms(symbol, venue) is None:
            await self.live_hub().ensure_quotes(venue, symbol, self.config.node.subscribe_wait_s)

    def candle_stream(self) -> Iterator[Candle]:
        from tradeguard.backtest.replay import candle_stream

        return candle_stream(self.config)

    async def run(
        self, until_end: bool = True, progress: Callable[[int, int], None] | None = None
    ) -> RunSummary:
        """Replay the configured data through strategies, risk and the paper venue."""
        from tradeguard.backtest.replay import replay

        return await replay(self, until_end, progress)

    _stop_requested = False
    start_reconciling = False  # start-up reconciliation runs (`start`)
    _replay_progress = (0, 0)  # a replay's candles done of its data's (backtest.replay)

    def start_strategies(self) -> None:
        """Call every strategy's on_start, then route the symbols each now trades."""
        for strat in self.strategies:
            strat.on_start()
        self._index_symbols()

    async def stop_strategies(self) -> None:
        """Let every strategy finish what is in flight (bounded by itself), then stop it."""
        for strat in self.strategies:
            if strat.id in self.interrupts.abandoned:
                continue  # stuck once in a callback: not called again
            try:  # a Ctrl-C bounds it (node.interrupt)
                await self.interrupts.stopping(strat.id, strat.on_stopping, strat.stopping_s())
            except Exception:
                log.exception("strategy %s: stopping failed", strat.id)
        for strat in self.strategies:
            self.interrupts.bounded(strat.id, strat.on_stop)  # a Ctrl-C may abandon it

    def request_stop(self) -> None:
        """Ask the live loop (or replay) to stop at the next step; one asked for before the
        live loop starts (during start-up) ends it as it starts."""
        self._stop_requested = True

    async def run_live(self, duration_s: float | None = None) -> RunSummary:
        """Trade on venue streams until stopped: quotes -> strategies -> the order path."""
        from tradeguard.node import live

        return await live.run_live(self, duration_s)

    def balance_sync(self) -> BalanceSync | None:
        """Build the periodic balance sync over the exchange venues, or None when it is off."""
        from tradeguard.node import live

        return live.balance_sync(self)

    def reference_prices(self) -> ReferencePrices:
        """Marks for held and fee assets no traded market prices (built on first use), from the
        exchange and data venues' public quotes."""
        if self._reference is None:
            from tradeguard.execution.reference_prices import ReferencePrices

            venues = {n: v for n, v in self.venues.items() if n not in self._paper}
            self._reference = ReferencePrices.of_node(self, {**venues, **self.data_venues})
        return self._reference

    def live_hub(self) -> LiveHub:
        """Return the live market-data hub over every venue's streams (built on first use)."""
        if self.live is None:
            from tradeguard.node.feed import build_hub

            self.live = build_hub(self)
        return self.live

    async def on_quote(self, quote: Quote) -> None:
        """Feed one best bid/ask update through market state, equity and strategies."""
        self.market.on_quote(quote)
        venue = quote.venue
        # A quote the mark guard holds fills no paper order: the confirming update does.
        if self._take_mark(venue, quote.symbol, quote.mid, quote.ts):
            for name, paper in self._paper.items():
                if not venue or self.market.follows(name, venue):  # fills on its venue's data
                    paper.on_quote(quote)
            self.portfolio.mark(quote.symbol, quote.mid, venue, quote.ts)
        self._observe_equity(quote.ts, quote.symbol)
        for strat in strategies_for(self._by_symbol, self._by_source, quote.symbol, venue):
            if not self.interrupts.call(strat.id, strat.on_ticker, quote):
                return  # stopping (Ctrl-C): nothing more of this quote
        if self._ctx.queue:
            await self._drain()
        for listener in self.price_listeners:
            await listener(quote.symbol, quote.mid, venue)
        self.stats.saw(quote.ts)  # a live run's summary period ("- → -" without it)
        self.stats.events += 1
        self._events_this_run += 1
        if self.state_saves is not None:
            self.state_saves.step_done()

    def _observe_equity(self, ts: int, symbol: str = "") -> None:
        observe_equity(self, ts, symbol)

    def fold_closed_trades(self) -> dict[str, TradeTotals]:
        """Add the trades closed since the last call to each strategy's totals; return them."""
        closed = self.portfolio.closed_trades
        for trade in closed[self._closed_seen :]:
            self._trade_totals.setdefault(trade.strategy_id, TradeTotals()).add(trade.pnl)
        self._closed_seen = len(closed)
        return self._trade_totals

    def figures(self) -> Figures:
        """Return the run's figures now: the one source the CLI, API, metrics and dashboard read."""
        self.fold_closed_trades()
        equity = self.portfolio.equity()
        run = self.run_equity
        trades = {sid: replace(t) for sid, t in self._trade_totals.items()}
        for sid, cycles in self.arb_cycles.items():
            trades[sid] = cycles.trade_totals(self.portfolio.price_of, trades.get(sid))
        # No figure recorded yet (none observed, or each held provisional): the run has made
        # nothing so far, so it starts and peaks at the equity now, never at zero.
        return Figures(
            equity=equity,
            start_equity=equity if run.start is None else run.start,
            peak_equity=equity if run.peak is None else run.peak,
            realized_pnl=sum((t.pnl for t in trades.values()), ZERO),
            unrealized_pnl=self.portfolio.unrealized_pnl(),
            fees=self._fees_before + self.portfolio.fees_paid,
            max_drawdown_pct=run.max_drawdown_pct,
            drawdown_pct=max(drawdown_pct(run.peak, equity) or ZERO, ZERO),
            trades=trades,
        )

    def note_arb_cycle(self, row: Mapping[str, Any]) -> None:
        """Count one recorded arbitrage cycle in its strategy's figures."""
        from tradeguard.portfolio.arb_summary import ArbSummary  # multi-leg strategies only

        self.arb_cycles.setdefault(str(row["strategy_id"]), ArbSummary()).add(row)

    def note_arb_settlement(self, strategy_id: str, settled: Settled) -> None:
        """Change a recorded cycle's trade by what its held position realised at settlement;
        kept with the caller's commit, where the API's figures read it (`SETTLED_KEY`)."""
        from tradeguard.portfolio.arb_summary import SETTLED_KEY, ArbSummary

        if settled.booked is None:
            return
        summary = self.arb_cycles.setdefault(strategy_id, ArbSummary())
        summary.settle(settled.booked, settled.realised, settled.record_id, settled.capital)
        self.storage.kv_set(SETTLED_KEY.format(strategy_id), summary.settled_json())

    def recount_arb_cycles(self, strategy_id: str) -> None:
        """Count a strategy's recorded cycles again, one of them rewritten (a held cycle whose
        order ended later): its figures as a restart reads them back."""
        from tradeguard.portfolio.arb_summary import SETTLED_KEY, ArbSummary
        from tradeguard.storage.arb_repository import load_arb_executions

        summary = ArbSummary()
        for row in load_arb_executions(self.storage, strategy_id=strategy_id):
            summary.add(row)
        summary.restore_settled(self.storage.kv_get(SETTLED_KEY.format(strategy_id)))
        self.arb_cycles[strategy_id] = summary

    def held_cached(self) -> frozenset[str] | None:
        """`held_symbols()` as last counted, or None when a fill, a balance change or a new
        mark has made it stale (then call `held_symbols()`); counts nothing itself."""
        p = self.portfolio
        fresh = self._held_n == p.marks_version() and self._held_tagged is bool(p.venue_marks)
        return self._held if fresh else None

    def held_symbols(self) -> frozenset[str]:
        """Symbols whose base asset this node holds (or owes) anywhere, or that value one."""
        held = self._held
        version = self.portfolio.marks_version()
        tagged = bool(self.portfolio.venue_marks)
        if held is None or self._held_n != version or tagged is not self._held_tagged:
            # every fill drops the set (this runs once per candle with a fill), and so do a
            # symbol marked or dropped and venues' own marks beginning (price-path symbols)
            self._held_n, self._held_tagged = version, tagged
            held = self._held = self._held_of(self.portfolio)
        return held

    def _daily_summary(self, day: int, ts: int, equity: Decimal) -> None:
        daily_summary(self, day, ts, equity)

    async def _drain(self) -> None:
        queue = self._ctx.queue
        while queue:
            # what the senders asked stored goes out first; not stored, none is sent
            saves = self.state_saves
            if saves is not None and saves.before_orders() is not None:
                log.error("%d order(s) not sent: their strategies' state was not stored "
                          "(the run stops)", len(queue))  # fmt: skip
                saves.unsent.update(intent.strategy_id for intent in queue)
                queue.clear()
                return
            intents = queue[:]
            queue.clear()
            for intent in intents:
                self._signal_ts[intent.strategy_id] = self.clock.now_ms()  # the last signal's time
                await self.submit_strategy_intent(intent)

    async def submit_strategy_intent(self, intent: OrderIntent) -> SubmitResult:
        """Send a strategy's intent: one trading as a bot (`bot = true`) through the bot's gate;
        an id no strategy of this node has may be a signal bot's, held to its order route."""
        # the bots' modules load where a bot trades: a config without bots never imports them
        if intent.strategy_id in self.bot_strategies:
            from tradeguard.node.bot_strategy import submit_as_bot

            return await submit_as_bot(self, intent)
        for s in self.strategies:  # a loop: any() over a generator costs more, once an order
            if s.id == intent.strategy_id:
                return await self.submit(intent, gate=None)
        from tradeguard.node.bot_orders import bot_refusal  # an id no strategy here has

        return await self.submit(intent, gate=partial(bot_refusal, self, intent))

    def _checkpoint(self, ts: int, done_at_ts: int = 0) -> None:
        ckpt.checkpoint(self, ts, done_at_ts)

    def _commit_candle(self, candles: list[Candle], i: int) -> None:
        ckpt.commit_candle(self, candles, i)

    # control -----------------------------------------------------------------------------------
    async def kill(
        self, reason: str, by: str, flatten: bool = False, request: KillRequest | None = None
    ) -> dict[str, Any]:
        """Halt (unless `request` was triggered already), cancel every open order on every
        venue, optionally flatten; report it all. While the live loop runs, the cancels wait
        for a kill still cancelling, as the kill file's do (node.duties.KillRunner)."""
        request = request or self.kill_switch.trigger(reason, by, flatten)
        runner = self.kill_runner
        if runner is None or runner.inside():
            return await execute_kill(self, request)
        return await runner.run(partial(execute_kill, self, request))

    async def poll_kill_sentinel(self) -> dict[str, Any] | None:
        """Run the kill switch if the sentinel file has appeared; return its report."""
        kill = self.kill_switch  # a loss limit's flatten first: from a reconciled book only
        request = kill.take_loss_flatten(reconciled(self)) or kill.poll()
        return None if request is None else await execute_kill(self, request)

    def summary(self, elapsed_s: float = 0.0) -> RunSummary:
        """Return the end-of-run summary, its money figures from `figures()`."""
        figures = self.figures()
        open_pos = []
        for p in self.portfolio.open_positions():
            mark = self.portfolio.mark_or(p.venue, p.symbol, p.avg_entry)
            open_pos.append({
                "symbol": p.symbol, "venue": p.venue, "strategy": p.strategy_id,
                "quantity": plain(p.quantity), "entry": plain(p.avg_entry), "mark": plain(mark),
                "unrealized_pnl": plain(p.unrealized_pnl(mark).quantize(Decimal("0.01"))),
            })  # fmt: skip
        return RunSummary(
            mode=self.mode.value,
            events=self._events_this_run,
            events_total=self.stats.events,
            orders=self.storage.count_orders(),
            denied=self.stats.denied,
            fills=self.storage.count_fills(),
            closed_trades=figures.closed_trades,
            winning_trades=figures.winning_trades,
            losing_trades=figures.closed_trades - figures.winning_trades,
            realized_pnl=figures.realized_pnl,
            unrealized_pnl=figures.unrealized_pnl,
            fees=figures.fees,
            start_equity=figures.start_equity,
            end_equity=figures.equity,
            max_drawdown_pct=figures.max_drawdown_pct,
            trading_state=self.risk.state.value,
            resumed=self.resumed,
            first_ts=self.stats.first_ts,
            last_ts=self.stats.last_ts,
            elapsed_s=elapsed_s,
            open_positions=open_pos,
            equity_provisional=equity_provisional(self.portfolio),
            candles_done=self._replay_progress[0],
            candles_total=self._replay_progress[1],
            currency=self.portfolio.valuation_asset,
        )

    def _emit(self, kind: str, data: dict[str, Any], severity: str = "info") -> None:
        self.bus.publish(Event(kind=kind, ts=self.clock.now_ms(), data=data, severity=severity))

    def close(self) -> None:
        try:  # a write the database refuses ends it with DataNotSaved (node.last_writes)
            close_writes(self)
        finally:
            try:  # even when a last write failed: its checkpoint thread would outlive the node
                self.db.dispose()
            finally:
                if self.writer_lock is not None:
                    self.writer_lock.release()

    async def reset_paper_account(self, by: str) -> dict[str, Any]:
        """Cancel open paper orders, close position records and restore the configured balances."""
        from tradeguard.node.paper_reset import reset_paper_account

        return await reset_paper_account(self, by)
