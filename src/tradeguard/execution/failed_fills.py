"""Fills booked of trades the venue later reports FAILED (Polymarket: matched, never settled
on chain). The venue never books a FAILED trade (`failed_fills` holds what it read of each);
one booked while it was pending is money that never moved. Reconciliation flags it once (the
trades flagged are stored, `FLAGGED_KEY`: a restart listing it again is not told again): the
report's `fills_failed` and a critical `fill.failed` event name the trade, the order
and the figures; the balance read that follows takes the venue's figures, which no longer hold
it, as the truth: an adjustment names the difference (`FAILED_ON_CHAIN` when those fills explain
it, `failed_moves`: no cash flow, and at start-up booked as the fees' rounding is). The strategy
position each fill made is reversed in the flag's commit (`failed_positions`); a cross-venue
pair a fill completed is cut to its other leg, held alone (the strategy's `leg_failed`), then
or, while the strategy's executor runs an attempt, by the first call that finds it idle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from tradeguard.execution.failed_positions import booked_with_owner, reverse_position
from tradeguard.execution.host import ReconcileHost
from tradeguard.model.enums import Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.risk.loss_history import TAKE_BACK_MS, cycle_key, fill_key

log = logging.getLogger(__name__)

FILL_FAILED = "fill.failed"
FLAGGED_KEY = "reconcile.fills_failed"  # venue -> trade ids flagged
FAILED_ON_CHAIN = "fills FAILED on chain"  # an adjustment's reason: what they moved, put back
UNTAKEN_KEY = "reconcile.fills_failed_untaken"  # venue -> trade ids flagged, balances not read


CUTS_WAITING_KEY = "reconcile.fills_failed_cuts"  # venue -> [trade, side, symbol, owner]
FLAGGED_BEFORE_KEY = "reconcile.fills_failed_before"  # venue -> ts: ids up to it let go
# a flagged trade's id is kept this long after its fill (the risk engine keeps a loss as long,
# so the loss of any sale flagged FAILED can be taken back)
FLAG_KEEP_MS = TAKE_BACK_MS
PENDING_MIN_MS = 3_600_000  # a FAILED trade not booked (yet) is looked for at least this long


def flag_failed_fills(node: ReconcileHost, name: str, venue: Any) -> list[dict[str, str]]:
    """The booked fills of `name` whose trades `venue` read as FAILED since the last call,
    each told once by a critical event; the venue's record of them is taken. One read FAILED
    and not booked (yet: its match streamed, its booking behind the read) stays in the venue's
    record while its trade is within the listing window, and is flagged once booked. The
    trades told are kept `FLAG_KEEP_MS` after their fill, then let go (`FLAGGED_BEFORE_KEY`):
    a booked fill no newer than the ones let go is told (its event says why) but its position
    and pair are left as they are, as it may have been flagged before (a trade can FAIL
    long after its match: before, it was skipped as told, with no alert)."""
    _cut_waiting(node, name)
    failed = getattr(venue, "failed_fills", None)
    if not failed:
        return []
    now = node.clock.now_ms()
    flagged, before = _flagged(node.storage, now)
    told = flagged.setdefault(name, {})
    taken = dict(failed)
    failed.clear()
    window = max(int(node.config.reconcile.fills_lookback_s * 1000), PENDING_MIN_MS)
    out: list[dict[str, str]] = []
    late: list[dict[str, str]] = []
    told_now: list[Event] = []  # published once the flag is committed
    for trade_id, fill in sorted(taken.items()):
        if trade_id in told:
            continue  # told already
        if (trade_id, fill.side.value) not in node.storage.fill_keys(name, fill.symbol):
            if fill.ts >= now - window:  # not booked yet: looked for again at the next call
                failed.setdefault(trade_id, fill)
            continue
        if fill.ts <= before.get(name, -1):  # its id may have been told and let go: told only
            late.append(_tell(node, name, trade_id, fill, told_now, LATE))
            continue
        out.append(_tell(node, name, trade_id, fill, told_now))
    if out or late:
        ids = {r["trade_id"] for r in out}
        told.update({r["trade_id"]: taken[r["trade_id"]].ts for r in out})
        # one told past the mark is kept a week from now: dated by its fill, past the mark,
        # it would be let go at once and told again by each listing reading it FAILED
        told.update({r["trade_id"]: now for r in late})
        _let_go(told, before, name, now)
        untaken = _by_venue(node.storage, UNTAKEN_KEY)
        untaken[name] = sorted(set(untaken.get(name, [])) | ids)
        with node.storage.transaction():
            node.storage.kv_set(FLAGGED_KEY, flagged)
            node.storage.kv_set(FLAGGED_BEFORE_KEY, before)
            node.storage.kv_set(UNTAKEN_KEY, untaken)
            booked = [
                b
                for t in sorted(ids)
                if (b := booked_with_owner(node.storage, name, taken[t])) is not None
            ]
            # the positions they made, reversed with the flag, newest first (the journal's
            # order: a venue's times are to the second): a sell of what a failed buy bought is
            # taken back before that buy, as each fill found it
            waiting: list[list[str]] = []
            for found in sorted(booked, key=_journal_rank(node, name, booked), reverse=True):
                reverse_position(node, *found)
                _take_back_fill_loss(node, *found)
                if _cut_later(node, *found):  # amid an attempt, or not run here: cut later
                    waiting.append([found[0].trade_id, found[0].side.value, found[0].symbol,
                                    found[1]])  # fmt: skip
                else:
                    _cut_pair(node, *found)
            if waiting:
                cuts: dict[str, Any] = _by_venue(node.storage, CUTS_WAITING_KEY)
                cuts[name] = [*cuts.get(name, []), *waiting]
                node.storage.kv_set(CUTS_WAITING_KEY, cuts)
        _publish_committed(node, told_now)
    return out + late


def _publish_committed(
    node: ReconcileHost, events: list[Event], emit: Callable[[Event], None] | None = None
) -> None:
    """Say and publish `events` (with `emit`, else on the bus) once their flag is committed:
    now, or, inside a transaction the flag joined, after its commit (none if it rolls back)."""
    if not events:
        return

    def publish() -> None:
        for event in events:
            if event.kind == FILL_FAILED:
                log.critical("%s", event.data["reason"])
            (emit or node.bus.publish)(event)

    storage = node.storage
    if not storage.in_transaction:
        publish()
        return

    def once() -> None:
        storage.remove_after_commit_hook(once)
        publish()

    storage.add_after_commit_hook(once)
    storage.on_rollback(partial(storage.remove_after_commit_hook, once))


def _cut_later(node: ReconcileHost, booked: Fill, owner: str) -> bool:
    """Whether the pair a failed leg `booked` (of `owner`) completed is cut later, by
    `_cut_waiting`: its strategy runs an attempt now, or does not run here (absent, or its
    executor unbound: nothing here would cut it) while the fill's order was a pair leg."""
    for strat in node.strategies:
        if getattr(strat, "id", None) == owner:
            return bool(getattr(strat, "leg_failed", None)) and not _cut_ready(node, owner)
    cid = booked.client_order_id
    order = node.storage.get_order(cid) if cid else None
    signal = order.signal if order is not None else None
    return isinstance(signal, dict) and signal.get("kind") == "cross_venue"


def _cut_ready(node: ReconcileHost, owner: str) -> bool:
    """Whether `owner` runs here with its executor idle: a node started without it (or with
    it unbound) keeps its cuts waiting, as nothing would cut them."""
    for strat in node.strategies:
        if getattr(strat, "id", None) == owner and getattr(strat, "leg_failed", None):
            executor = getattr(strat, "executor", None)
            return executor is not None and not executor.busy
    return False


def _cut_waiting(node: ReconcileHost, name: str) -> None:
    """Cut the pairs of the legs flagged on `name` while their strategy's executor was busy
    (`CUTS_WAITING_KEY`, kept with the flag), those whose executor runs here idle now, each in
    one commit with its removal from the waiting list (a restart cuts them at its
    reconciliation)."""
    cuts: dict[str, Any] = _by_venue(node.storage, CUTS_WAITING_KEY)
    for entry in list(cuts.get(name, [])):
        trade_id, side, symbol, owner = (str(x) for x in entry)
        if not _cut_ready(node, owner):
            continue
        cuts[name] = [e for e in cuts.get(name, []) if e != entry]
        if not cuts[name]:
            del cuts[name]
        with node.storage.transaction():
            node.storage.kv_set(CUTS_WAITING_KEY, cuts)
            for booked, _owner in node.storage.fill_pages(venue=name, symbol=symbol):
                if (booked.trade_id, booked.side.value) == (trade_id, side):
                    _cut_pair(node, booked, owner)
                    break


def _book_kept(book: Any, executor: Any) -> tuple[Any, ...]:
    """What a cut may change of the strategy's book: its pairs, its day's figures (a lone
    leg's failed sale takes its P&L back) and the newest record of each held leg."""
    retries = dict(getattr(executor, "held_retries", {}))
    return list(book.open), book.day, book.trades_today, book.realised_today, retries


def _book_back(book: Any, executor: Any, kept: tuple[Any, ...]) -> None:
    held, book.day, book.trades_today, book.realised_today, retries = kept
    book.open[:] = held
    if executor is not None:
        executor.held_retries.clear()
        executor.held_retries.update(retries)


def _journal_rank(node: ReconcileHost, name: str, booked: list[tuple[Fill, str]]) -> Any:
    """A sort key placing each of `booked` where the journal has it (time, then row)."""
    since = min((b.ts for b, _ in booked), default=0)
    rank = {
        (f.trade_id, f.side): i
        for i, f in enumerate(node.storage.load_fills(venue=name, since_ts=since))
    }
    return lambda found: rank.get((found[0].trade_id, found[0].side), -1)


def _unrecord(node: Any, owner: str, executor: Any, attempts: int, last_record_id: int) -> None:
    """The cut's record rolled back: out of the strategy's attempts and the node's figures."""
    del executor.attempts[attempts:]
    executor.last_record_id = last_record_id
    recount = getattr(node, "recount_arb_cycles", None)
    if recount is not None:
        recount(owner)


LATE = (
    "; its fill is no newer than the trades flagged and let go (`FLAG_KEEP_MS` after their "
    "fill), so whether it was flagged before cannot be known: its position and any pair it "
    "completed are left as they are, check them by hand"
)


def _tell(
    node: ReconcileHost, name: str, trade_id: str, fill: Fill, told: list[Event], late: str = ""
) -> dict[str, str]:
    """The report's row of a trade read FAILED; its critical `fill.failed` event is added to
    `told`, published once the flag is committed."""
    row = {
        "venue": name, "trade_id": trade_id, "client_order_id": _booked_order(node, fill),
        "symbol": fill.symbol, "side": fill.side.value, "amount": plain(fill.amount),
        "price": plain(fill.price), "fee": plain(fill.fee),
    }  # fmt: skip
    why = (
        f"{name} reports trade {trade_id} FAILED (never settled): the fill booked of it "
        f"({row['side']} {row['amount']} {fill.symbol} at {row['price']}) never moved; "
        f"the venue's balances are taken as the truth{late}"
    )
    data = {**row, "reason": why}
    told.append(Event(FILL_FAILED, node.clock.now_ms(), data, venue=name, symbol=fill.symbol,
                      severity="critical"))  # fmt: skip
    return row


def _flagged(storage: Any, now: int) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """The trades told per venue (id -> its fill's time; a list stored before times were
    kept: each dated now) and the time up to which told ids were let go."""
    stored = storage.kv_get(FLAGGED_KEY)
    flagged: dict[str, dict[str, int]] = {}
    for venue, ids in (stored if isinstance(stored, dict) else {}).items():
        flagged[venue] = dict(ids) if isinstance(ids, dict) else dict.fromkeys(ids, now)
    before = storage.kv_get(FLAGGED_BEFORE_KEY)
    return flagged, dict(before) if isinstance(before, dict) else {}


def _let_go(told: dict[str, int], before: dict[str, int], name: str, now: int) -> None:
    """Drop the ids of trades whose fills are older than `FLAG_KEEP_MS`, moving `name`'s mark
    up to the newest dropped: a trade FAILS within minutes of its match, never days."""
    old = {t: ts for t, ts in told.items() if ts < now - FLAG_KEEP_MS}
    for trade_id in old:
        del told[trade_id]
    if old:
        before[name] = max(before.get(name, -1), *old.values())


def _cut_pair(node: ReconcileHost, booked: Fill, owner: str) -> None:
    """Tell the strategy a pair leg `booked` was booked to (a cross-venue pair's) that its trade
    FAILED: the pair it completed holds its other leg alone now (in the flag's commit)."""
    for strat in node.strategies:
        cut = getattr(strat, "leg_failed", None)
        if cut is None or getattr(strat, "id", None) != owner:
            continue
        book, executor = getattr(strat, "book", None), getattr(strat, "executor", None)
        if book is not None and node.storage.keeps_undo:  # a commit refused: the book as it was
            kept = _book_kept(book, executor)
            node.storage.on_rollback(partial(_book_back, book, executor, kept))
        if executor is not None and node.storage.keeps_undo:  # and no record of the cut
            node.storage.on_rollback(partial(
                _unrecord, node, owner, executor, len(executor.attempts), executor.last_record_id
            ))  # fmt: skip
        cid = booked.client_order_id
        order = node.storage.get_order(cid) if cid else None
        named = _record_naming(node.storage, owner, cid, unwinds=booked.side is Side.SELL)
        recorded = len(executor.attempts) if executor is not None else 0
        held = cut(booked, order.signal if order is not None else None, named, order)
        if held:  # the lone leg's sale gives back what its held record holds: an unwind
            _cover(node, owner, str(held["venue"]), str(held["symbol"]), held["contracts"])
        if held and booked.side is Side.SELL and named is not None:
            _take_back_loss(node, owner, named, _taken_back(executor, recorded))


def _taken_back(executor: Any, recorded: int) -> Decimal | None:
    """What the cut's record (the newest of `executor`'s attempts past `recorded`) took back
    of the failed sale's P&L (None: no such record)."""
    attempts = getattr(executor, "attempts", None) or []
    if len(attempts) <= recorded:
        return None
    back = getattr(attempts[-1], "actual_profit", None)
    return back if isinstance(back, Decimal) else None


def _take_back_loss(
    node: ReconcileHost, owner: str, record_id: int, back: Decimal | None = None
) -> None:
    """The sale the record `record_id` booked FAILED (`back`: what its P&L took back): the
    loss it fed the risk engine's losing streak and after-loss cooldown never happened, unless
    the rest of the sale still lost (put back if the commit is refused)."""
    _take_back(node, owner, cycle_key(record_id), back, f"record {record_id}'s loss was taken back")


def _take_back_fill_loss(node: ReconcileHost, booked: Fill, owner: str) -> None:
    """The closing fill `booked` (of `owner`, a strategy whose fills make its positions)
    FAILED: the loss its round trip fed the risk engine's losing streak and after-loss
    cooldown never happened; a win's reset of the streak did not either (the streak is given
    back). None kept: no closing fill, or its result let go."""
    key = fill_key(booked.venue, booked.trade_id, booked.side.value)
    risk = node.risk
    if getattr(risk, "loss_symbols", None) is None:
        return
    losses = getattr(risk, "losses", None)
    won = losses is not None and losses.find_win(owner, key) is not None
    if not won and not risk.loss_symbols(owner, key):
        return
    what = "win's reset of the losing streak" if won else "loss"
    why = f"the {what} of trade {booked.trade_id} was taken back: it FAILED on {booked.venue}"
    _take_back(node, owner, key, None, why)


def _take_back(node: ReconcileHost, owner: str, key: str, back: Decimal | None, why: str) -> None:
    risk = node.risk
    take_back = getattr(risk, "take_back_loss", None)
    if take_back is None:
        return
    symbols = risk.loss_symbols(owner, key)
    if node.storage.keeps_undo:
        node.storage.on_rollback(risk.result_undo(owner, symbols))
    with risk.events_held() as told:  # a pause lifted: told once the flag is committed
        take_back(owner, key, node.clock.now_ms(), back, why)
    _publish_committed(node, told, risk.emit)


def _record_naming(
    storage: Any, owner: str, client_order_id: str, unwinds: bool = False
) -> int | None:
    """The id of `owner`'s newest record naming the order `client_order_id` as a leg (with
    `unwinds`, as an unwind too: a sale's record); None: no record names it. Read from an
    index kept on the storage, not by scanning every record on each cut."""
    from tradeguard.execution.record_index import record_naming

    return record_naming(storage, owner, client_order_id, unwinds)


def _cover(node: ReconcileHost, owner: str, venue: str, symbol: str, contracts: Any) -> None:
    """Count the lone leg a cut left as `owner`'s cycle holding, which its `arb-unwind` sale
    may give back (the pair's own cycle ended when it completed); taken back if the flag's
    commit is refused."""
    from tradeguard.risk.unwind import base_asset

    holdings, asset = node.risk.cycle_holdings, base_asset(symbol)
    before = holdings.held(owner, venue, asset)
    holdings.cover(owner, venue, asset, Decimal(str(contracts)))
    added = holdings.held(owner, venue, asset) - before
    if added > ZERO and node.storage.keeps_undo:
        node.storage.on_rollback(partial(holdings.uncover, owner, venue, asset, added))


def _booked_order(node: ReconcileHost, fill: Any) -> str:
    """The order the booked fill of `fill`'s trade names (the venue's row names none of an
    order it no longer knows: a filled order after a restart)."""
    for booked in node.storage.load_fills(venue=fill.venue, symbol=fill.symbol):
        if (booked.trade_id, booked.side) == (fill.trade_id, fill.side):
            return str(booked.client_order_id)
    return str(fill.client_order_id)


def _by_venue(storage: Any, key: str) -> dict[str, list[str]]:
    stored = storage.kv_get(key)
    return dict(stored) if isinstance(stored, dict) else {}


def failed_taken(storage: Any, name: str) -> None:
    """`name`'s balances were taken (inside the caller's transaction): the fills flagged so
    far are in them."""
    untaken = _by_venue(storage, UNTAKEN_KEY)
    if untaken.pop(name, None) is not None:
        storage.kv_set(UNTAKEN_KEY, untaken)


def failed_moves(storage: Any, name: str) -> dict[str, Decimal]:
    """Per asset, what the booked fills flagged FAILED (`flag_failed_fills`) whose balances no
    read took yet moved in `name`'s ledger (fills - fees): money the venue never moved, so a
    difference of that much between the ledger and the venue is theirs, not one unexplained
    (a start that flagged them and stopped before reading the balances included)."""
    keys = set(_by_venue(storage, UNTAKEN_KEY).get(name, []))
    moved: dict[str, Decimal] = {}
    if not keys:
        return moved
    for fill in storage.load_fills(venue=name):
        if fill.trade_id not in keys:
            continue
        sign = 1 if fill.side is Side.BUY else -1
        moved[fill.base] = moved.get(fill.base, ZERO) + sign * fill.amount
        moved[fill.quote] = moved.get(fill.quote, ZERO) - sign * fill.price * fill.amount
        if fill.fee:
            moved[fill.fee_asset] = moved.get(fill.fee_asset, ZERO) - fill.fee
    return moved
