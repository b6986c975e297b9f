"""The live loop: venue streams -> strategies -> the order path, with its background duties.

Duties: the kill-switch sentinel, checkpoints and a heartbeat, periodic settlement and
reconciliation, order timeouts, retries of unresolved orders (node.duties), the balance sync
(or, without one, the reference prices' own refresh), the dead-man ping and scheduled backups.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import TYPE_CHECKING

from tradeguard.bots.node_exits import bot_specs, wanted_symbols
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.execution.merge_trades import trades_kept, venue_trades
from tradeguard.execution.outcome_merge import book_merges
from tradeguard.execution.reconcile import held_unbooked, sync_held
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.node.duties import duties
from tradeguard.node.health import dead_man_ping
from tradeguard.node.last_writes import last_checkpoint
from tradeguard.node.loop_errors import quiet_unread_network_errors
from tradeguard.node.stats import RunSummary
from tradeguard.storage.bot_rows import BotRows

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tradeguard.node.backups import ScheduledBackups
    from tradeguard.node.node import TradingNode


def _log_risk(event: Event) -> None:
    """Put a trading state change or a tripped breaker on the console too: a node with no alert
    channel configured stopped trading without a word in its terminal."""
    d = event.data
    if event.kind == EventKind.STATE_CHANGED:
        log.warning("trading state %s -> %s: %s (by %s)", d.get("from"), d.get("to"),
                    d.get("reason"), d.get("by"))  # fmt: skip
    else:
        where = f" [{event.symbol}]" if event.symbol else ""
        log.warning("circuit breaker tripped%s: %s", where, d)


async def run_live(node: TradingNode, duration_s: float | None = None) -> RunSummary:
    """Trade on venue streams until stopped: quotes -> strategies -> the order path.

    Background duties: the kill-switch sentinel, periodic reconciliation and checkpoints.
    """
    with quiet_unread_network_errors(asyncio.get_running_loop()):
        return await _run_live(node, duration_s)


async def _run_live(node: TradingNode, duration_s: float | None) -> RunSummary:
    started = time.perf_counter()
    backups = _scheduled_backups(node)
    # A stop asked for before now (SIGTERM, Ctrl-C during start-up) ends the loop as it starts:
    # it is taken by the run it ends (cleared in `finally`), never dropped here.
    saves = node.keep_states_saved()  # paper venues on live data too, not only sandbox/live
    node.start_strategies()
    # What start-up built (instruments, indexed cycles, restored orders) lives for the run:
    # out of the cyclic collector's sight, a full collection does not stall the loop over it.
    gc.freeze()
    node._emit(EventKind.RUN_STARTED, {"mode": node.mode.value, "resumed": node.resumed})
    hub = node.live_hub()
    hub.subscribe(s for strat in node.strategies for s in strat.subscriptions())
    hub.subscribe(bot_quotes(node))
    resync = time.monotonic() + RESYNC_STREAMS_S
    node.liveness.start()
    # said once its transaction commits: a refused one (and each retry) said nothing true
    node.bus.subscribe(_log_risk, EventKind.STATE_CHANGED, committed=True)
    node.bus.subscribe(_log_risk, EventKind.BREAKER_TRIPPED, committed=True)
    tasks: list[asyncio.Task[None]] = []
    deadline = None if duration_s is None else time.monotonic() + duration_s
    # Everything from the subscription on is undone in `finally`: a duty that fails to build
    # (the balance sync refusing its tolerances) left the log handler subscribed, and a node
    # run again in the same process logged every state change once per earlier attempt.
    ended_by = True  # an error ends the run: cleared once the loop ends as asked
    try:
        _start_duties(node, tasks, backups)
        while not node._stop_requested:
            if deadline is not None and time.monotonic() >= deadline:
                break
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            if (failed := hub.failure() or saves.failed) is not None:
                raise failed  # a stream task died, or a state store failed (node.state_saves)
            if time.monotonic() >= resync:  # a bot may have taken a new symbol
                hub.subscribe(bot_quotes(node))
                resync = time.monotonic() + RESYNC_STREAMS_S
            await asyncio.sleep(0.05)
        ended_by = False
    finally:
        node.bus.unsubscribe(_log_risk)
        node.liveness.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await node.stop_strategies()
            saves.close()  # the last checkpoint stores every strategy's state
            # refused, or a state unstorable: the stop goes on, and ends saying so
            unsaved = last_checkpoint(node)
            if ended_by and isinstance(unsaved, ConfigError):  # the run's own error is raised
                log.error("%s", unsaved)
        finally:  # whatever failed above: a node run again here starts unfrozen, not stopped
            gc.unfreeze()
            node._stop_requested = False
    if unsaved is not None:
        raise unsaved
    summary = node.summary(time.perf_counter() - started)
    node._emit(EventKind.RUN_FINISHED, summary.to_json())
    return summary


def _start_duties(
    node: TradingNode, tasks: list[asyncio.Task[None]], backups: ScheduledBackups | None
) -> None:
    """Start the background duties, appending each task to `tasks` as it starts."""
    tasks.append(asyncio.create_task(duties(node), name="duties"))
    sync = balance_sync(node)
    if sync is not None:
        interval = node.config.reconcile.balance_sync_interval_s
        tasks.append(asyncio.create_task(sync.run(interval), name="balance-sync"))
    elif (every := node.config.node.reference_prices_interval_s) and node._reference is not None:
        # No balance sync reads them (paper venues on live data): their own schedule.
        tasks.append(asyncio.create_task(node._reference.run(every), name="reference-prices"))
    if (ping := dead_man_ping(node)) is not None:
        node.liveness.ping = ping
        tasks.append(asyncio.create_task(ping.run(), name="dead-man-ping"))
    if backups is not None:
        tasks.append(asyncio.create_task(backups.run(), name="backups"))


def _scheduled_backups(node: TradingNode) -> ScheduledBackups | None:
    # Built before trading starts: a missing backup passphrase stops the node here. Imported
    # only when configured: the vault's cryptography stays out of replays and backtests.
    if not node.config.node.backup_interval_s:
        return None
    from tradeguard.node.backups import ScheduledBackups

    return ScheduledBackups(node.config.node)


def balance_sync(node: TradingNode) -> BalanceSync | None:
    """Build the periodic balance sync over the exchange venues, or None when it is off."""
    rc = node.config.reconcile
    venues = {n: v for n, v in node.venues.items() if n not in node._paper}
    if rc.balance_sync_interval_s <= 0 or not venues:
        return None
    return BalanceSync(
        venues,
        node.portfolio,
        node.storage,
        node.bus,
        node.clock,
        tolerance_pct=rc.balance_tolerance_pct,
        tolerance_abs=rc.balance_tolerance_abs,
        in_flight=lambda venue: _venue_busy(node, venue),
        reference=node.reference_prices(),
        on_applied=lambda venue: _balances_applied(node, venue),
        open_orders=lambda venue: [o for o in node.orders.open.values() if o.venue == venue],
        merges=lambda venue, found: book_merges(
            node.orders,
            lambda symbol: venue_trades(node.venues[venue], symbol),
            venue,
            found,
            node.clock.now_ms(),
            lambda symbols: trades_kept(node.venues[venue], symbols),
        ),
        reports=node.orders,
    )


def _balances_applied(node: TradingNode, venue: str) -> None:
    # A deposit, a withdrawal or a drift set from the venue moves the equity without a fill:
    # the node's cached equity and held symbols predate it.
    node.invalidate_equity()
    sync_held(node, venue)
    apply_cash_flows(node)  # a deposit found is no profit; a loss found stays one


def _venue_busy(node: TradingNode, venue: str) -> str:
    # Balances move with fills, and a fill's stream message may trail the venue's balance by a
    # moment: read them only when no order is unresolved and none changed a while. Orders
    # resting open are no reason to wait: the sync checks their fills are all booked.
    orders = node.orders
    waiting = [o for o in orders.unknown.values() if o.venue == venue]
    # submitted, no answer yet: it may fill before the node hears of it
    waiting += [o for o in orders.open.values() if o.venue == venue and not o.venue_order_id]
    if waiting:
        ids = ", ".join(sorted({f"{o.client_order_id} ({o.status.value})" for o in waiting}))
        return f"order(s) not acknowledged or not resolved: {ids}"
    held = held_unbooked(node.venues.get(venue))  # in the chain's balances, not the ledger's
    if held:
        return held
    recent = node.clock.now_ms() - 2_000
    if any(o.venue == venue and o.updated_ts >= recent for o in orders.orders.values()):
        return "an order changed in the last 2 s; its fills may still be on the way"
    return ""


RESYNC_STREAMS_S = 2.0  # how often the live loop looks for symbols bots newly need


def bot_quotes(node: TradingNode) -> list[Subscription]:
    """Quotes for every symbol a bot trades, holds or guards with exit rules, on live venues,
    and for the markets a venue prices itself (a DEX pool), so HTTP orders find a price."""
    specs = bot_specs(BotRows(node.db).bots())
    wanted = wanted_symbols(specs, node.bot_exits.plans.values(), node.portfolio)
    subs = [
        Subscription("quotes", venue, symbol)
        for venue, symbols in wanted.items()
        if venue in node.venues and venue not in node._paper
        for symbol in symbols
    ]
    for name, venue in node.venues.items():
        subs.extend(Subscription("quotes", name, s) for s in getattr(venue, "quote_symbols", ()))
    return subs
