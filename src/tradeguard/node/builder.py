"""Build every part of a node from one config: the one wiring tests and commands reuse."""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.config import RUNNING_STRATEGIES_KEY, Config, VenueConfig, bot_name_clash
from tradeguard.config_venues import OUTCOME_EXCHANGES
from tradeguard.execution.ledger_audit import START_BALANCES_KEY
from tradeguard.execution.order_manager import OrderManager
from tradeguard.execution.timeouts import OrderTimeouts
from tradeguard.marketdata.state import MarketState
from tradeguard.model.balance import Balance
from tradeguard.model.enums import TradingMode
from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import Instrument
from tradeguard.node.audit_log import AuditLog
from tradeguard.node.checkpoint import load_run_states, restore, run_state
from tradeguard.node.context import OwnContext
from tradeguard.node.credentials import unlock_ahead, venue_credentials
from tradeguard.node.exit_siblings import ExitSiblings
from tradeguard.node.state_store import StorageStateStore
from tradeguard.node.stats import KILL_SENTINEL_KEY
from tradeguard.portfolio.figures import TradeTotals
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.engine import RiskEngine
from tradeguard.risk.kill import KillSwitch
from tradeguard.storage.arb_repository import arb_strategy_ids, load_arb_executions
from tradeguard.storage.bot_rows import BotRow, BotRows, ExitPlanRows
from tradeguard.storage.db import Database
from tradeguard.storage.lock import acquire_writer_lock
from tradeguard.storage.repository import Storage
from tradeguard.strategies.base import create
from tradeguard.venues.base import Venue

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tradeguard.alerts.manager import AlertManager
    from tradeguard.bots.node_exits import NativeVenues
    from tradeguard.node.node import TradingNode


def build_node(
    config: Config, clock: Clock | None = None, venues: dict[str, Venue] | None = None
) -> TradingNode:
    """Build a node for `config`; `venues` (by name) replace the configured ones of that name."""
    from tradeguard.node.node import TradingNode

    return TradingNode(config, clock=clock, venues=venues)


def assemble(node: TradingNode, venues: dict[str, Venue] | None = None) -> None:
    """Wire storage, market, portfolio, risk, venues, orders, strategies, timeouts and alerts;
    a build that fails disposes of its database and releases its writer lock (`_let_go`)."""
    node.writer_lock = None
    try:
        _assemble(node, venues)
    except BaseException:
        _let_go(node)
        raise


def _let_go(node: TradingNode) -> None:
    """Dispose of the database and release the writer lock of a build that failed: held by
    the error (and whatever keeps it), they would lock a retry out of its own database and
    keep the WAL checkpoint thread waking for as long as the process goes on."""
    db = getattr(node, "db", None)
    try:
        if db is not None:
            db.dispose()
    finally:
        if node.writer_lock is not None:
            node.writer_lock.release()
            node.writer_lock = None


def _assemble(node: TradingNode, venues: dict[str, Venue] | None) -> None:
    config = node.config
    # One writer per database, taken before anything (migrations too) writes.
    node.writer_lock = acquire_writer_lock(config.node.database_url)
    unlock_ahead(config, venues or {})  # the vault's key derived meanwhile, on another core
    # A backtest's run database is a file of its run directory, made again by running again
    # (not a mode = "backtest" config run by `tradeguard run`: that one resumes from its commits).
    node.db = Database(config.node.database_url, disposable=node.disposable_db)
    node.db.migrate()
    node.db.check_writable()
    node.storage = Storage(node.db)
    node.market = MarketState()
    node.portfolio = Portfolio(
        config.node.valuation_asset, config.node.pegged_assets, config.risk.valuation_asset_usd
    )
    node.portfolio.now_ms = node.clock.now_ms  # how long a mark holds an older price off
    node._risk_store = StorageStateStore(node.storage)
    node.risk = RiskEngine(
        config.risk,
        node.clock,
        node._risk_store,
        node.bus.publish,
        config.node.valuation_asset,
    )
    node._take_mark, node._take_bar = node.risk.mark_guard.take, node.risk.mark_guard.take_bar
    # Resolved once, and stored so that `tradeguard kill` run from any folder finds it.
    sentinel = Path(config.node.kill_sentinel).resolve()
    node.kill_switch = KillSwitch(node.risk, node.clock, sentinel)
    with node.storage.transaction():
        node.storage.kv_set(KILL_SENTINEL_KEY, str(sentinel))
    node.audit = AuditLog(node.storage)
    node.storage.add_commit_hook(node.audit.write)
    node.bus.subscribe(node.audit.on_event)
    wire_bus(node.bus, node.storage)
    _build_venues(node, venues or {})
    node.orders = OrderManager(
        storage=node.storage,
        venues=node.venues,
        risk=node.risk,
        portfolio=node.portfolio,
        market=node.market,
        bus=node.bus,
        clock=node.clock,
    )
    node.orders.fill_listeners.append(node._route_fill)
    restore(node)
    if config.bots or not node.disposable_db:
        _build_bot_exits(node)
    siblings = node.exit_siblings = ExitSiblings(node)  # exits: one cancels other
    node.orders.fill_listeners.append(siblings.on_fill)
    node.orders.cancel_listeners.append(siblings.on_cancel)
    for end in ("order.filled", "order.cancelled", "order.rejected", "order.expired"):
        node.bus.subscribe(siblings.on_order_end, end)
    _apply_config_bots(node)
    _build_strategies(node)
    # Closed-trade totals per strategy: read from the journal once, then kept as trades close
    # (a checkpoint must not re-read every closed trade, which grows without bound).
    for sc in config.strategies:
        node._trade_totals[sc.id] = TradeTotals()
    for row in node.storage.load_position_rows(status="closed"):
        if row.get("pnl") is not None:
            node._trade_totals.setdefault(row["strategy_id"], TradeTotals()).add(row["pnl"])
    node._closed_seen = len(node.portfolio.closed_trades)
    # Multi-leg strategies open no positions: their trades are their recorded cycles.
    for sid in arb_strategy_ids(node.storage):
        from tradeguard.portfolio.arb_summary import SETTLED_KEY, ArbSummary

        summary = node.arb_cycles[sid] = ArbSummary()
        for row in load_arb_executions(node.storage, strategy_id=sid):
            summary.add(row)
        summary.restore_settled(node.storage.kv_get(SETTLED_KEY.format(sid)))
    node._fees_before = node.storage.fill_fees()[1]
    # a re-sent entry is a new intent of its strategy: a bot strategy's passes the bot's gate
    node.timeouts = OrderTimeouts.from_config(
        config.strategies, node.orders, node.market, node.submit_strategy_intent
    )
    if config.alerts.enabled:
        _attach_alerts(node)


def _attach_alerts(node: TradingNode) -> None:
    """Build the alert manager; its alerts go out only after the work they report commits."""
    config = node.config
    from tradeguard.alerts import build_manager
    from tradeguard.node.credentials import alerts_with_vault_secrets

    # the channels' and the dead-man ping's secrets, from the vault where the config says
    config.alerts = alerts_with_vault_secrets(config.alerts)
    mode = config.mode.value
    paper_only = all(v.kind == "paper" for v in config.venues if not v.data_only)
    if config.mode is TradingMode.SANDBOX and paper_only:
        mode = "paper"  # paper fills on live data (sandbox mode): no order reaches a venue
    manager = build_manager(config.alerts, mode=mode)
    if manager.channels:
        node.alerts = manager
        wire_alerts(manager, node.storage)
        node.bus.subscribe(manager.on_event)
        node.market.candle_listeners.append(manager.on_candle)


def wire_bus(bus: EventBus, storage: Storage) -> None:
    """Announce outside the process (the API's stream) only events whose transaction
    committed, once, in order (see `EventBus.hold_until_commit`)."""
    bus.hold_until_commit(lambda: storage.in_transaction, storage.on_rollback)
    storage.add_after_commit_hook(bus.announce_held)
    storage.add_rollback_hook(bus.drop_held)


def wire_alerts(manager: AlertManager, storage: Storage) -> None:
    """Send `manager`'s alerts only once the work they report is committed (see
    AlertManager.hold), keep them in `storage` until delivered and queue those a crash left."""
    from tradeguard.alerts.durable import AlertOutbox

    manager.resume(AlertOutbox(storage))
    manager.hold = lambda: storage.in_transaction
    manager.on_rollback = storage.on_rollback
    storage.add_commit_hook(manager.seal)
    storage.add_after_commit_hook(manager.release)
    storage.add_rollback_hook(manager.discard)


def _build_bot_exits(node: TradingNode) -> None:
    """The bots' server-side exits, their stored plans loaded. A backtest's fresh run database
    without `[[bots]]` has none and can get none (no bot is registered, no API is served): it
    goes without them, and without importing the bots' modules."""
    from tradeguard.bots.node_exits import node_exit_manager

    node.bot_exits = node_exit_manager(
        node.portfolio, node.orders, node.submit, ExitPlanRows(node.storage), node.clock,
        _native_venues(node),
    )  # fmt: skip
    node.bot_exits.follows = node.market.follows  # a stop reads its own venue's price
    node.price_listeners.append(node.bot_exits.on_price)
    node.orders.fill_listeners.append(node.bot_exits.on_fill)


def _apply_config_bots(node: TradingNode) -> None:
    """Register the config's bots (one the emergency stop disabled stays disabled); their
    trades follow their orders from here on (`node.bot_trades`), except on a backtest's fresh
    run database without `[[bots]]`, where no bot trades (no bot is registered, no API)."""
    rows = BotRows(node.db)
    if node.config.bots:  # the bots' modules load for a config naming some
        from tradeguard.bots.config_apply import STOPPED_KEY, apply_config_bots

        stopped = {b.name for b in node.config.bots if node.storage.kv_get(STOPPED_KEY + b.name)}
        for name in sorted(stopped):
            log.warning(
                "bot %s stays disabled: the emergency stop halted it (bot enable ends it)", name
            )
    was_enabled = {r.name for r in rows.bots() if r.enabled}
    now = node.clock.now_ms()
    if node.config.bots:
        apply_config_bots(rows, node.config.bots, now, stopped)
    if node.config.bots or not node.disposable_db:  # a backtest's fresh database has none
        from tradeguard.node.bot_close_rates import record_close_rates
        from tradeguard.node.bot_trades import follow_bot_trades  # loaded where it is needed

        follow_bot_trades(node)  # a bot trade's record follows its order, a cut send's too
        record_close_rates(node)  # a closed trade's USD value is its quote's price then
    registered = {r.name: r for r in rows.bots()}
    for name in sorted(was_enabled - {n for n, r in registered.items() if r.enabled}):
        # disabled by the config: its approvals from before do not outlive it, as for a stop
        rows.void_confirmations(name, now, "the config's enabled = false")
    for s in node.config.strategies:
        if s.id in registered and not s.bot:  # a bot `bot add` registered beside another config
            raise ConfigError(f"strategies[{s.id}]: {bot_name_clash(s.id)}")
        if s.bot:
            _check_bot_strategy(s.id, s.venue, registered.get(s.id))
    # what `bot add` beside this running node reads: a bot may not take a strategy's id
    node.storage.kv_set(RUNNING_STRATEGIES_KEY, {
        "ids": [s.id for s in node.config.strategies],
        "bots": [s.id for s in node.config.strategies if s.bot],
    })  # fmt: skip


def _check_bot_strategy(sid: str, venue: str, row: BotRow | None) -> None:
    """A strategy with `bot = true` needs its bot registered, on the strategy's venue."""
    if row is None:
        raise ConfigError(
            f"strategies[{sid}]: bot = true, but no bot named {sid!r} is registered; add a "
            f"[[bots]] entry with name = {sid!r} or run `tradeguard bot add {sid} ...`"
        )
    from tradeguard.bots.spec import BotSpec

    bot_venue = BotSpec.parse(sid, row.spec).venue
    if bot_venue != venue:
        raise ConfigError(
            f"strategies[{sid}]: venue {venue!r}, but bot {sid!r} trades on {bot_venue!r}; "
            "a strategy trading as a bot uses the bot's venue"
        )


def _build_venues(node: TradingNode, given: dict[str, Venue]) -> None:
    from tradeguard.venues.paper import PaperVenue

    for vc in node.config.venues:
        if vc.data_only:  # public market data only: never an order, a balance or a key
            node.data_venues[vc.name] = _data_venue(node, vc)
        elif vc.name not in given:
            node.venues[vc.name] = _configured_venue(node, vc)
    for name, venue in given.items():
        node.venues[name] = venue
        if isinstance(venue, PaperVenue):
            node._paper[name] = venue
            if not node.storage.load_balances(name):
                _open_ledger(node, name, {b.asset: b.total for b in venue.balances()})
    _tie_paper_venues(node)
    _tie_dex_references(node)


def _tie_dex_references(node: TradingNode) -> None:
    """Give each DEX venue's pool check the venues whose marks its pools are held to, read
    through the node's mark guard and held to the risk engine's stale-data limit; a swap it
    holds unbooked is published (`dex.swap_held`, an alert naming why)."""
    for name, venue in node.venues.items():
        held = getattr(venue, "held", None)
        if held is not None and hasattr(held, "on_held"):
            held.on_held = partial(_swap_held, node, name)
        guard = getattr(venue, "pool_guard", None)
        if guard is not None and guard.marks:
            from tradeguard.venues.uniswap_v2.reference import venue_marks

            guard.mark_of = venue_marks(
                {**node.data_venues, **node.venues},
                node.risk.mark_guard,
                node.config.risk.stale_data_s,
                node.clock,
            )


def _swap_held(node: TradingNode, venue: str, info: dict[str, Any]) -> None:
    from tradeguard.model.events import Event
    from tradeguard.venues.uniswap_v2.held import SWAP_HELD

    node.bus.publish(Event(SWAP_HELD, node.clock.now_ms(), info, venue=venue,
                           symbol=str(info.get("symbol", "")), severity="warning"))  # fmt: skip


def _tie_paper_venues(node: TradingNode) -> None:
    """Tell market state and the portfolio whose market data prices each paper venue: its
    `data_venue`'s, or (without one) whichever venue's arrives."""
    follows = {vc.name: vc.data_venue for vc in node.config.venues if vc.data_venue}
    for name in node._paper:
        if name in follows:
            node.market.data_venue[name] = follows[name]
        else:
            node.market.untied.add(name)
    node.portfolio.data_venue = node.market.data_venue
    node.portfolio.untied = node.market.untied
    guard = node.risk.mark_guard
    guard.data_venue = node.market.data_venue
    guard.untied = node.market.untied  # priced by any venue's data: any venue's suspect holds
    guard.outcome_venues = frozenset(
        vc.name
        for vc in node.config.venues
        if vc.kind in OUTCOME_EXCHANGES or vc.exchange in OUTCOME_EXCHANGES
    )


def _data_venue(node: TradingNode, vc: VenueConfig) -> Any:
    if vc.kind in ("kalshi", "polymarket"):
        from tradeguard.venues.pm_public import build_pm_data_venue

        return build_pm_data_venue(vc, node.clock)
    from tradeguard.venues.ccxt_venue import build_ccxt_venue

    return build_ccxt_venue(vc, node.clock)


def _configured_venue(node: TradingNode, vc: VenueConfig) -> Venue:
    if vc.kind == "paper":
        return _paper_venue(node, vc)
    if vc.kind == "ccxt":  # its import (ccxt's every exchange) runs while the key is derived
        import tradeguard.venues.ccxt_venue  # noqa: F401
    credentials = venue_credentials(vc)
    if vc.kind in ("kalshi", "polymarket"):
        from tradeguard.venues.pm_build import build_pm_venue

        return build_pm_venue(vc, node.clock, credentials)
    if vc.kind == "uniswap_v2":
        from tradeguard.execution.dex_journal import StoredTxJournal
        from tradeguard.venues.uniswap_v2.build import build_uniswap_venue

        journal = StoredTxJournal(node.storage)
        live = node.config.mode.value == "live"
        return build_uniswap_venue(
            vc, journal, node.config.source_dir, credentials=credentials, live=live
        )
    from tradeguard.venues.ccxt_venue import build_ccxt_venue

    return build_ccxt_venue(vc, node.clock, credentials=credentials)


def _paper_venue(node: TradingNode, vc: VenueConfig) -> Venue:
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
        node.market.add_instrument(inst)
    stored = node.storage.load_balances(vc.name)
    balances = {b.asset: b.total for b in stored} if stored else dict(vc.balances)
    fm = vc.fill_model
    # A prediction market's stream sends a book when it changes: a quiet book is the current
    # one for as long as the risk engine trusts the stream (risk.stale_data_s).
    kinds = {v.name: v.kind for v in node.config.venues}
    streamed = kinds.get(vc.data_venue or "") in ("kalshi", "polymarket")
    stale_ms = node.config.risk.stale_data_s * 1000 if streamed else 5_000
    paper_cls: Any = PaperVenue
    if vc.exchange in ("kalshi", "polymarket"):  # outcome contracts with that venue's fees
        from tradeguard.venues.outcome_paper import OutcomePaperVenue

        paper_cls = partial(OutcomePaperVenue, dialect=vc.exchange)
    venue = paper_cls(
        vc.name, instruments, balances, node.clock,
        FillConfig(
            slippage_bps=fm.slippage_bps,
            impact_bps_per_pct=fm.impact_bps_per_pct,
            max_participation=fm.max_participation_pct / 100,
            fill_at=fm.fill_at,
            stale_after_ms=stale_ms,
            instrument_slippage_bps={
                ic.symbol: ic.slippage_bps for ic in vc.instruments if ic.slippage_bps is not None
            },
        ),
    )  # fmt: skip
    node._paper[vc.name] = venue
    if not stored:
        _open_ledger(node, vc.name, balances)
    return venue


def _open_ledger(node: TradingNode, venue: str, balances: dict[str, Decimal]) -> None:
    """Start a paper venue's ledger: its balances, stored with them as the audit's start."""
    rows = [Balance(venue, a, q) for a, q in balances.items()]
    node.portfolio.set_balances(venue, rows)
    starts = node.storage.kv_get(START_BALANCES_KEY)
    starts = dict(starts) if isinstance(starts, dict) else {}
    starts[venue] = {a: str(q) for a, q in balances.items()}
    with node.storage.transaction():
        node.storage.kv_set(START_BALANCES_KEY, starts)
        node.storage.upsert_balances(venue, rows, ts=node.clock.now_ms())


def _build_strategies(node: TradingNode) -> None:
    from tradeguard.strategies import rehearsal  # noqa: F401  (registers itself)

    node._ctx._pauses.load()  # before any strategy binds or emits
    enabled = [sc for sc in node.config.strategies if sc.enabled]
    # Every strategy's stored states in one read each (not three reads per strategy).
    load_run_states(node, [sc.id for sc in enabled if sc.id not in node._strategy_states])
    records = dict(node.storage.kv_prefixed(RECORD_PREFIX)) if enabled else {}
    for sc in enabled:
        try:
            strat = create(sc.kind, sc.id, sc.venue, sc.symbol, sc.params, node.config.source_dir)
        except ValueError as exc:
            raise ConfigError(f"strategies[{sc.id}]: {exc}") from None
        conflicts = getattr(strat, "risk_conflicts", None)
        for problem in conflicts(node.config.risk) if conflicts else ():
            raise ConfigError(f"strategies[{sc.id}]: {problem}")
        strat.bind(OwnContext(node._ctx, sc.id))  # its intents under its own id
        saved = node._strategy_states.get(sc.id)
        if saved is None:  # read once: the checkpoints keep this row from here on
            saved = run_state(node, sc.id).state
        saved = newest_state(sc.id, saved or {}, records)
        if saved:
            strat.restore(saved)
        node.strategies.append(strat)
    node._index_symbols()


# The kv_state keys of strategies' records (gateway.RECORD_STATE_KEY, RECORD_NOTE_KEY, ...)
RECORD_PREFIX = "strategy.record_"


def newest_state(
    strategy_id: str, saved: dict[str, Any], records: dict[str, Any]
) -> dict[str, Any]:
    """The checkpoint's state, or the one its newest record committed when that came later
    (a kill between a record and the next checkpoint); `records`: the stored values of the
    keys starting with `RECORD_PREFIX`."""
    from tradeguard.execution.gateway import RECORD_NOTE_KEY, RECORD_STATE_KEY

    note = records.get(RECORD_NOTE_KEY.format(strategy_id))
    if isinstance(note, dict):  # what changed since the newest record (strategy.restore reads)
        saved = {**saved, "record_note": note}
    recorded = records.get(RECORD_STATE_KEY.format(strategy_id))
    if not isinstance(recorded, dict):
        return saved
    if int(recorded.get("record_id") or 0) > int(saved.get("record_id") or 0):
        return {**saved, **recorded}
    return saved


def _native_venues(node: TradingNode) -> NativeVenues:
    """The venues where bots' exits rest on the venue: switched on and able."""
    from tradeguard.bots.node_exits import NativeVenues

    enabled = {
        vc.name: vc.native_exits and node.venues[vc.name].native_stops
        for vc in node.config.venues
        if vc.name in node.venues
    }

    def tick(venue: str, symbol: str) -> Decimal | None:
        inst = node.market.instrument(venue, symbol)
        return None if inst is None else inst.price_tick

    trailing = {vc.name: vc.native_trailing_interval_s * 1000 for vc in node.config.venues}
    return NativeVenues(enabled, tick, trailing)
