"""Reconciliation: make the journal agree with every venue before any new order, and while trading.

Per venue, in this order:
1. open orders, in one `fetch_open_orders` call, matched to the journal by client order id;
2. journal orders the venue no longer lists as open: asked one by one by client order id (filled,
   cancelled, or never received); one that cannot be asked stays unknown and blocks its symbol;
3. open venue orders the journal never knew: adopted (strategy `external`; `holdings` on a spot
   market) or cancelled, per `reconcile.external_orders`;
4. fills since the last successful reconciliation (minus `reconcile.fills_lookback_s`), booked
   once each by venue trade id; a fill of no journal order older than the venue's ledger
   opening (on its first reconciliation: older than this one, and kept as the opening's) is
   skipped (the opening balances hold it); one dated to the whole second the ledger opened
   in (a venue dating trades to the second) is booked unless the opening listed it
   (`ledger_opening`); the symbols read are the strategies', the journal orders' and, on a
   venue listing the account's trades of every market (`traded_symbols`), those traded; a
   venue's listings serving several symbols are read once in a pass (`listing_pass`); fills
   booked of trades the venue now reports FAILED are flagged (`fills_failed`, `failed_fills`);
5. balances: on a venue netting YES and NO of one market (Kalshi), pairs the durable ledger still
   holds are netted first (`outcome_netting`: a fill booked before its netting was); the venue is
   the truth; every difference from the ledger is recorded as an adjustment (a read off it is
   listed after first: a trade made during the read is booked as a fill), then the ledger and the
   database take the venue's figures; but while an order of the venue is unresolved (the venue
   reports fills or an end the journal could not book yet, or it cannot be asked) its balances are
   left alone, so a missed fill is never booked as an adjustment: the report's `balances_deferred`
   says which orders it waits for, or the swaps a DEX holds mined but unbooked (`held_unbooked`: in
   the chain's balances, not in the ledger), but not one the venue reports filled beyond its
   unreadable fill rows (escalated, `fills_unreadable`, its symbol blocked, the venue's balances
   applied as the truth); so are they when a fill of the venue is booked while its balances are
   being read. A venue's first reconciliation opens its ledger at the venue's figures (the audit's
   start). At start-up the venue is compared with the durable ledger (start + fills - fees +
   adjustments, not the last stored report, which a crash may have left behind its fills): a
   difference beyond the fees' rounding is never booked but reported (`ledger_differences`), and
   the ledger audit halts;
6. positions: spot holdings that positions claim but the venue does not hold are reported; once
   a venue's balances are applied, a strategy's legs held alone (cross-venue) are shrunk to
   what the venue holds (`held_shrunk`); at start, after the attempts a stop cut short are
   taken up (a cut retry's sale is that retry's, not a sale by hand).

If any step cannot complete, the report says which venue, which step, how many attempts, the
error and the way out; `reconcile_and_gate` then halts the node until a reconciliation succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.failed_fills import flag_failed_fills
from tradeguard.execution.host import ReconcileHost
from tradeguard.execution.ledger_audit import stored_start_balances, stored_start_ts
from tradeguard.execution.ledger_opening import (
    before_opening,
    opening_trades,
    record_opening_trades,
    trade_key,
)
from tradeguard.execution.merge_trades import trades_kept, venue_trades
from tradeguard.execution.order_events import is_settlement
from tradeguard.execution.outcome_merge import book_merges
from tradeguard.execution.outcome_netting import with_journal_locks
from tradeguard.execution.pending_trades import (
    follow_pending,
    remember_pending,
    restore_pending,
)
from tradeguard.execution.reconcile_balances import apply_balances_or_fail, differs_from_ledger
from tradeguard.execution.reconcile_call import ReconcileFailed, call_venue, database_failed
from tradeguard.execution.reconcile_positions import check_positions as _check_positions
from tradeguard.execution.reconcile_report import (
    CHECKPOINT_KEY,
    RECONCILER,
    REPORT_KEY,
    ReconcileReport,
    close,
    gate,
    settled,
)
from tradeguard.model.enums import OrderStatus
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.model.outcome import with_other_outcomes
from tradeguard.model.reports import OrderReport

log = logging.getLogger(__name__)

T = TypeVar("T")


async def reconcile_all(
    node: ReconcileHost,
    trigger: str = "startup",
    *,
    settle: Callable[[], Awaitable[Any]] | None = None,
    after: Callable[[], Any] | None = None,
) -> ReconcileReport:
    """Reconcile the journal, fills, balances and positions with every venue of `node`.

    `settle` (the periodic pass's settlement) runs first and `after` (its cash-flow count)
    before the report is stored; a database refusal of either, or of the closing writes,
    fails the report (`reconcile_report.close`); a refused settlement skips the venues."""
    cfg = node.config.reconcile
    om = node.orders
    started = time.perf_counter()
    report = ReconcileReport(
        trigger=trigger, started_ms=node.clock.now_ms(), external_action=cfg.external_orders
    )
    checkpoints = node.storage.kv_get(CHECKPOINT_KEY)
    checkpoints = dict(checkpoints) if isinstance(checkpoints, dict) else {}
    done: dict[str, int] = {}
    venues = node.venues if settle is None or await settled(report, settle) else {}
    for name, venue in venues.items():
        report.venues.append(name)
        venue_started = node.clock.now_ms()
        try:
            await _reconcile_venue(node, name, venue, report, checkpoints.get(name))
        except ReconcileFailed as exc:
            report.fail(str(exc))
            continue
        except SQLAlchemyError as exc:
            # a step's commit refused (the fill catch-up's, an order's state): nothing of it was
            # kept, memory is put back as the journal has it; the venue's reconciliation fails
            # (the halt) and the run goes on, its checkpoint left where the next one reads from
            what, again = "a database call of its reconciliation", "reads the venue again"
            report.fail(str(database_failed(name, what, exc, again)))
            continue
        done[name] = venue_started
    if om.unknown:
        # Give each unknown order one more query before refusing to trade.
        await om.retry_unknown()
    if om.unknown:
        report.unknown_orders = sorted(om.unknown)
        listed = ", ".join(
            f"{o.client_order_id} ({o.venue} {o.symbol})" for o in om.unknown.values()
        )
        report.fail(
            f"{len(om.unknown)} order(s) in unknown state after {om.resolve_attempts} queries "
            f"each: {listed}; their symbols stay blocked until the venue answers (the periodic "
            "reconciliation keeps asking)"
        )
    report.duration_s = round(time.perf_counter() - started, 4)
    close(node, report, {**checkpoints, **done} if done else {}, after)
    return report


async def reconcile_and_gate(node: ReconcileHost, trigger: str = "periodic") -> ReconcileReport:
    """Reconcile, halt the node when it fails, and lift a halt only the reconciler had set."""
    report = await reconcile_all(node, trigger)
    gate(node, report)
    return report


class _Call(Protocol):
    def __call__(self, step: str, fn: Callable[[], Awaitable[T]]) -> Awaitable[T]: ...


async def _reconcile_venue(
    node: ReconcileHost, name: str, venue: Any, report: ReconcileReport, checkpoint: int | None
) -> None:
    cfg = node.config.reconcile

    async def call(step: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await call_venue(name, step, fn, cfg.call_attempts, cfg.call_timeout_s)

    # 1. open orders in one call
    listed = await call("fetch_open_orders", venue.fetch_open_orders)
    venue_open: dict[str, OrderReport] = {r.client_order_id: r for r in listed}

    # 2. every open journal order of this venue
    earliest_open, unresolved = await _check_open_orders(node, name, venue_open, report, call)

    # 3. open venue orders the journal never knew
    await _check_unknown_orders(node, venue_open, report, call)

    # 4. fills since the last checkpoint
    lookback_ms = int(cfg.fills_lookback_s * 1000)
    if checkpoint is not None:
        since = checkpoint - lookback_ms
    elif earliest_open is not None:
        since = earliest_open - lookback_ms
    else:
        since = node.clock.now_ms() - lookback_ms
    if earliest_open is not None:
        since = min(since, earliest_open - lookback_ms)
    symbols = _symbols_of(node, name, venue_open, since)
    traded = getattr(venue, "traded_symbols", None)  # the account's trades, any market
    opening: set[str] = set()  # trades the balances this reconciliation opens the ledger at hold
    restore_pending(node, name, venue)  # pending at the last stop: the listing may read them
    with _listing_pass(venue):  # a listing of several symbols (a market's) read once
        if traded is not None:
            found = await call(f"traded_symbols since {since}", partial(traded, max(since, 0)))
            symbols |= with_other_outcomes(set(found))
        for symbol in sorted(symbols):
            report.fills_recovered += await _catch_up_symbol(
                node, name, venue, symbol, since, call, opening
            )
    if opening:
        record_opening_trades(node.storage, name, opening)
    await follow_pending(node, name, venue, since, call)  # pending before a stop: by id
    report.fills_failed += flag_failed_fills(node, name, venue)
    remember_pending(node, name, venue)

    # 5. balances: the venue is the truth, once every order's fills are booked
    held = held_unbooked(venue)
    if unresolved or held:
        why = f"{held}; balances wait so that it is never booked as an adjustment"
        if unresolved:
            why = (
                f"order(s) {', '.join(sorted(unresolved))} not resolved yet (the venue reports "
                "fills or an end not booked, or cannot be asked); balances wait so that a missed "
                "fill is never booked as an adjustment"
            )
        log.warning("venue %s: balance reconciliation deferred: %s", name, why)
        report.balances_deferred.append({"venue": name, "reason": why})
    else:
        await _reconcile_balances(node, name, venue, report, call, sorted(symbols), since)

    # 6. positions against holdings (spot: a long needs the base asset on the venue)
    _check_positions(node, name, report)


async def _reconcile_balances(
    node: ReconcileHost,
    name: str,
    venue: Any,
    report: ReconcileReport,
    call: _Call,
    symbols: list[str],
    since: int,
) -> None:
    """Read `name`'s balances and apply them. On a netting venue, or after a read off the ledger,
    fills are caught up again: a trade made between the first catch-up and the read (not
    streamed yet) is in the figures but not the ledger, and would be booked as an adjustment
    (then as a fill too: held twice); once it is booked, the balances are read again.
    Any fill booked from the read's start to the apply (the catch-up's awaits let the stream
    book one the read predates) means the read is not applied. The read that opens the ledger
    is followed by a listing too (`_listed_again`)."""
    # YES and NO the ledger still holds together were paid out by a netting venue
    report.fills_recovered += node.orders.net_ledger(name)
    # opening at this read: a trade listed after it may be in the figures (`_listed_again`)
    opens = _opens_now(node, name)
    recheck = bool(getattr(venue, "nets_outcome_pairs", False)) or opens
    late: list[str] = []
    for _ in range(3):
        read_ts = node.clock.now_ms()  # every fill before it is in what the venue answers
        told = node.orders.balances_told()  # a balance report told after it is newer
        found = 0
        with _fills_booked(node, name) as during:
            balances = await call("fetch_balances", venue.fetch_balances)
            streamed = list(during)
            # figures off the ledger may hold a trade not streamed nor listed yet: list again
            if not streamed and (recheck or differs_from_ledger(node, name, balances)):
                found = await _listed_again(node, name, venue, symbols, since, call, opens)
                report.fills_recovered += found
        if streamed:
            # Booked while the answer was on its way: the figures may predate them, and a
            # difference now would book the fills a second time as an adjustment.
            why = (
                f"fill(s) {', '.join(streamed)} booked during the balance read; balances wait "
                "for the next reconciliation so that a fill is never booked as an adjustment"
            )
            log.warning("venue %s: balance reconciliation deferred: %s", name, why)
            report.balances_deferred.append({"venue": name, "reason": why})
            return
        if found or during:
            late.append(str(max(found, len(during))))
            continue  # booked after the read (caught up or streamed): read again, with them
        # a netting venue's one signed position per market, read with what sells lock
        balances = with_journal_locks(node.orders, name, balances)
        # pairs merged outside the node (while it was down too): fills, never adjustments
        with _fills_booked(node, name) as traded:  # the venue's trades booked, not a merge
            waits = await book_merges(node.orders, partial(_trades_of, venue, call), name,
                                      balances, node.clock.now_ms(),
                                      partial(trades_kept, venue))  # fmt: skip
        if waits:
            report.fills_recovered += len(traded)
            report.balances_deferred.append({"venue": name, "reason": waits})
            return
        apply_balances_or_fail(node, name, balances, report, read_ts, told)
        if report.trigger != "startup":  # at start: once cut attempts are taken up
            report.held_shrunk += sync_held(node, name)
        return
    why = (
        f"fills kept arriving during {len(late)} balance reads ({', '.join(late)}); balances "
        "wait for the next reconciliation so that a fill is never booked as an adjustment"
    )
    log.warning("venue %s: balance reconciliation deferred: %s", name, why)
    report.balances_deferred.append({"venue": name, "reason": why})


async def _listed_again(
    node: ReconcileHost,
    name: str,
    venue: Any,
    symbols: list[str],
    since: int,
    call: _Call,
    opens: bool,
) -> int:
    """Catch `symbols`' fills up again after a balance read; return how many the read may
    lack: the fills booked, and when the ledger opens at the read the trades of no journal
    order listed now but not by the listings before (made between the last listing and this
    one, so maybe before the read, maybe after it: a venue dating trades to the second stamps
    both alike). Those are kept as the opening's (`ledger_opening`) and the balances read
    again, applied once a listing after the read finds nothing new."""
    listed: set[str] = set()
    booked = 0
    with _listing_pass(venue):  # a pass of its own: listed after the read
        for symbol in symbols:
            booked += await _catch_up_symbol(
                node, name, venue, symbol, since, call, listed if opens else None
            )
    fresh = listed - opening_trades(node.storage).get(name, set())
    if fresh:
        record_opening_trades(node.storage, name, fresh)
    return booked + len(fresh)


async def _trades_of(venue: Any, call: _Call, symbol: str) -> tuple[list[Fill], bool]:
    """The trades of `symbol` the venue lists (a merge is told from sales by them), and
    whether to the listing's end (`venue_trades`)."""
    return await call(f"fetch_fills {symbol} (merge check)", partial(venue_trades, venue, symbol))


def _listing_pass(venue: Any) -> contextlib.AbstractContextManager[Any]:
    """The venue's pass of fill reads (`listing_pass`: a listing serving several symbols is
    read once within it), or none."""
    opened = getattr(venue, "listing_pass", None)
    return opened() if opened is not None else contextlib.nullcontext()


@contextlib.contextmanager
def _fills_booked(node: ReconcileHost, name: str) -> Iterator[list[str]]:
    """The trade ids of `name`'s fills booked while the block runs."""
    during: list[str] = []

    def watch(fill: Fill, _order: object) -> None:
        if fill.venue == name:
            during.append(fill.trade_id)

    node.orders.fill_listeners.append(watch)
    try:
        yield during
    finally:
        node.orders.fill_listeners.remove(watch)


async def _check_open_orders(
    node: ReconcileHost,
    name: str,
    venue_open: dict[str, OrderReport],
    report: ReconcileReport,
    call: _Call,
) -> tuple[int | None, list[str]]:
    """Bring each open journal order of venue `name` up to date; return (earliest, unresolved)."""
    om = node.orders
    earliest_open: int | None = None
    unresolved: list[str] = []
    for order in [o for o in list(om.open.values()) if o.venue == name]:
        if order.client_order_id in om.in_submit or is_settlement(order):
            # its submit on the wire (a query now could outrun it), or a settlement order whose
            # fill waits for its pass (the venue's balances hold the payout: reconciled, twice)
            unresolved.append(order.client_order_id)
            continue
        report.orders_checked += 1
        before = (order.status, order.filled)
        earliest_open = (
            order.created_ts if earliest_open is None else min(earliest_open, order.created_ts)
        )
        seen = venue_open.get(order.client_order_id)
        if seen is not None:
            if seen.filled > order.filled:
                got = await call(
                    f"fetch_fills for {order.client_order_id}",
                    partial(om.catch_up_fills, order, seen),
                )
                report.fills_recovered += got
            om.on_order_report(seen)
            result: OrderReport | None = seen
        else:
            # Not open on the venue: finished there, or never received. Ask by client order id.
            trades = len(order.trade_ids)
            result = await call(f"fetch_order {order.client_order_id}", partial(om.resolve, order))
            report.fills_recovered += len(order.trade_ids) - trades
            if result is None and order.status is OrderStatus.REJECTED:
                report.orders_missing.append(order.client_order_id)
        if (order.status, order.filled) != before:
            report.orders_updated.append(order.client_order_id)
        if order.client_order_id in om.unreadable:  # escalated: the balances are the truth
            report.fills_unreadable.append(order.client_order_id)
        elif _unresolved(order, result) or order.client_order_id in om.unknown:
            unresolved.append(order.client_order_id)
    return earliest_open, unresolved


async def _check_unknown_orders(
    node: ReconcileHost, venue_open: dict[str, OrderReport], report: ReconcileReport, call: _Call
) -> None:
    """Adopt or cancel the venue's open orders the journal never knew."""
    cfg = node.config.reconcile
    om = node.orders
    for cid, seen in venue_open.items():
        if cid in om.orders:
            continue
        journaled = node.storage.get_order(cid) if cid else None
        if journaled is not None:
            # The journal has it as finished while the venue lists it open: take the venue's word
            # for the fills, keep our terminal state (states never go backwards) and report it.
            om.orders[cid] = journaled
            report.orders_updated.append(cid)
            continue
        report.external_orders.append(cid)
        if cfg.external_orders == "adopt":
            adopted = om.adopt_external(seen)
            if seen.filled > 0:
                report.fills_recovered += await call(
                    f"fetch_fills for external {cid}",
                    partial(om.catch_up_fills, adopted, seen),
                )
        else:
            await call(f"cancel external {cid}", partial(om.cancel_external, seen))


def held_unbooked(venue: Any) -> str:
    """Why `venue`'s balances cannot be taken as the truth yet: the swaps it holds mined but
    unbooked (a DEX's `held`: in the chain's balances, not in the ledger), or ""."""
    held = getattr(venue, "held", None)
    swaps = held.listed() if held is not None and hasattr(held, "listed") else []
    if not swaps:
        return ""
    named = ", ".join(f"{x['client_order_id']} (tx {x['tx_hash']})" for x in swaps)
    return f"swap(s) {named} mined but held unbooked (the RPC's answer for them not trusted)"


def _unresolved(order: Any, seen: OrderReport | None) -> bool:
    """Tell whether the venue reports more of `order` than the journal could book."""
    if order.status.is_terminal or seen is None:
        return False
    return seen.filled > order.filled or seen.status.is_terminal


def _symbols_of(
    node: ReconcileHost, venue: str, venue_open: dict[str, OrderReport], since: int
) -> set[str]:
    """Symbols whose fills must be caught up: strategies, open orders, recent journal orders."""
    symbols = {s.symbol for s in node.strategies if s.venue == venue}
    symbols.update(r.symbol for r in venue_open.values() if r.symbol)
    symbols.update(o.symbol for o in node.orders.orders.values() if o.venue == venue)
    for order in node.storage.load_orders(venue=venue, limit=500):
        if order.updated_ts >= since or order.is_open:
            symbols.add(order.symbol)
    return with_other_outcomes(symbols)  # a hand buy of the other outcome nets or merges a leg


async def _catch_up_symbol(
    node: ReconcileHost,
    venue_name: str,
    venue: Any,
    symbol: str,
    since: int,
    call: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
    opening: set[str] | None = None,
) -> int:
    """Book `symbol`'s fills from `since` on that the journal lacks; a trade of no journal
    order before the venue's ledger opened is left to the opening balances, and on the
    venue's first reconciliation added to `opening` (the trades those balances hold)."""
    now = node.clock.now_ms()
    # What the journal holds is read once the venue reports fills: none (a paper venue at a
    # start, a quiet symbol) reads nothing.
    ledger: _Ledger | None = None
    recovered = 0
    cursor = since
    while True:
        batch = await call(
            f"fetch_fills {symbol} since {cursor}",
            partial(venue.fetch_fills, symbol, max(cursor, 0)),
        )
        if not batch:
            return recovered
        if ledger is None:
            ledger = _ledger_of(node, venue_name, symbol, now)
        known, opened, held = ledger
        new = []
        for f in batch:
            if (f.trade_id, f.side.value) in known:
                continue
            if not _before_ledger(node, f, opened, held):
                new.append(f)
            elif held is None and opening is not None:
                opening.add(trade_key(f))
        with _fills_booked(node, venue_name) as booked:  # a refused one is no fill recovered
            for fill in sorted(new, key=lambda f: f.ts):
                node.orders.on_fill(fill)
                known.add((fill.trade_id, fill.side.value))
                recovered += fill.trade_id in booked
        # A venue answers a bounded page; ask again from the newest fill seen (dedup covers the
        # overlap) until the pages end. A page of fills already booked says nothing of the next.
        newest = max(f.ts for f in batch)
        if newest <= cursor:
            return recovered
        cursor = newest


_Ledger = tuple[set[tuple[str, str]], int | None, set[str] | None]


def _ledger_of(node: ReconcileHost, venue_name: str, symbol: str, now: int) -> _Ledger:
    """The fills of `symbol` the journal holds, when the venue's ledger opened and the trades
    its opening listed (`now` and None at its first reconciliation: its read holds them all)."""
    known = node.storage.fill_keys(venue_name, symbol)
    opened = stored_start_ts(node.storage).get(venue_name)
    held: set[str] | None = opening_trades(node.storage).get(venue_name, set())
    if _opens_now(node, venue_name):
        opened, held = now, None
    return known, opened, held


def _opens_now(node: ReconcileHost, venue_name: str) -> bool:
    """Tell whether the venue's ledger opens at this reconciliation's balance read."""
    storage = node.storage
    return venue_name not in stored_start_ts(storage).keys() | stored_start_balances(storage)


def _before_ledger(
    node: ReconcileHost, fill: Fill, opened: int | None, held: set[str] | None
) -> bool:
    """A fill of no journal order made before the venue's ledger opened: the opening balances
    hold it already (another database's trade, a trade by hand), so booking it counts it twice.
    `held` None: the ledger opens at this reconciliation (`opened` is now), whose balances are
    read after every trade listed now; else the trades the opening listed (`ledger_opening`:
    one stamped with the opening's whole second is after it unless listed there)."""
    if opened is None:
        return False
    if not (fill.ts < opened if held is None else before_opening(fill, opened, held)):
        return False
    coid = fill.client_order_id
    return not coid or (coid not in node.orders.orders and node.storage.get_order(coid) is None)


def sync_held(node: ReconcileHost, venue: str) -> list[dict[str, Any]]:
    """Let each strategy holding legs without positions (cross-venue pairs) shrink them to
    what the venue holds now; return what changed."""
    book = node.portfolio.book(venue)
    holders = [s for s in node.strategies if getattr(s, "sync_held", None) is not None]
    out: list[dict[str, Any]] = []
    for strat in holders:  # what the others claim now (after their shrinks) is not this one's
        others: dict[str, Decimal] = {}
        for other in holders:
            claims: dict[tuple[str, str], Decimal] = (
                getattr(other, "held_assets", dict)() if other is not strat else {}
            )
            for (v, asset), q in claims.items():
                if v == venue:
                    others[asset] = others.get(asset, ZERO) + q
        sync = getattr(strat, "sync_held")  # noqa: B009  (the strategies holding lone legs)
        out += sync(venue, lambda a, o=others: book.total(a) - o.get(a, ZERO))
    return out


__all__ = [
    "CHECKPOINT_KEY",
    "RECONCILER",
    "REPORT_KEY",
    "ReconcileReport",
    "gate",
    "reconcile_all",
    "reconcile_and_gate",
    "sync_held",
]
