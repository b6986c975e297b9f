"""The strategy position a fill made, taken back when its trade FAILED at the venue.

A fill booked while its trade was pending moved the position of the strategy it was booked to;
the trade never settled, so the contracts it bought (or sold) never existed. Flagging it
(`failed_fills.flag_failed_fills`) reverses that move in the flag's own commit, once per trade
(a trade flagged is never flagged again, restarts included): the position loses what the fill
added at the fill's price, the fee it charged comes off the position's (and the portfolio's)
fees and realised P&L, and no round trip is counted. The balances are not touched here: the
venue's figures, taken by the reconciliation's adjustment, already hold what never moved. A
`fill.reversed` event (the journal keeps the fill itself) records the reversal.

A failed fill that reduced a position (the other side of it) gives back what it took at the
average the position had before it (unchanged by a partial close; the round trip's entry after
a close or a flip), and the gross P&L it realised comes off the position's (and the
portfolio's) realised P&L: the position is as the fill found it. The round trip it closed, if
any, never happened: it leaves this run's closed trades and the closed position rows."""

from __future__ import annotations

import logging
from dataclasses import fields
from decimal import Decimal
from typing import Any

from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.position import ClosedTrade, Position

log = logging.getLogger(__name__)

FILL_REVERSED = "fill.reversed"
REVERSED_KEY = "reconcile.fills_reversed"  # venue -> trade ids whose position move was reversed
_FIELDS = tuple(f.name for f in fields(Position))


def booked_with_owner(storage: Any, venue: str, fill: Fill) -> tuple[Fill, str] | None:
    """The journal's fill of `fill`'s trade and side, and the strategy it was booked to."""
    for booked, owner in storage.fill_pages(venue=venue, symbol=fill.symbol):
        if (booked.trade_id, booked.side) == (fill.trade_id, fill.side):
            return booked, str(owner or "")
    return None


def reverse_position(node: Any, booked: Fill, owner: str) -> dict[str, str] | None:
    """Take `booked`'s move out of `owner`'s position (inside the caller's transaction); the
    reversal's figures, or None when the fill moved no position (a balance-only strategy)."""
    portfolio, storage = node.portfolio, node.storage
    key = (booked.venue, booked.symbol, owner)
    pos = portfolio.positions.get(key)
    moved = booked.base_moved if booked.side.sign > 0 else -booked.base_moved
    if pos is None or moved == ZERO:
        return None
    saved = tuple(getattr(pos, n) for n in _FIELDS)
    totals = (portfolio.fees_paid, portfolio.realized_pnl)
    if storage.keeps_undo:
        storage.on_rollback(lambda: _put_back(portfolio, pos, saved, totals))
    before = pos.quantity
    trip = _trip_closed_by(portfolio, storage, booked, owner)
    gross = _take_out(pos, booked, moved, trip)
    found = before - moved  # the position the fill found: a close of it closed `trip`
    if trip is not None and found != ZERO and (found > ZERO) != (moved > ZERO):
        _drop_trip(node, trip)
    fee_q = booked.fee_in_quote
    portfolio.fees_paid -= fee_q
    portfolio.realized_pnl += fee_q - gross
    stored = storage.kv_get(REVERSED_KEY)
    done = dict(stored) if isinstance(stored, dict) else {}
    done[booked.venue] = sorted(set(done.get(booked.venue, [])) | {booked.trade_id})
    storage.kv_set(REVERSED_KEY, done)  # the ledger audit nets the fill's move out of it
    if pos.quantity == ZERO:
        storage.drop_open_position(*key)
    else:
        storage.save_position(pos, booked.price)
    data = {
        "venue": booked.venue, "symbol": booked.symbol, "strategy_id": owner,
        "trade_id": booked.trade_id, "client_order_id": booked.client_order_id,
        "side": booked.side.value, "quantity": plain(abs(moved)), "price": plain(booked.price),
        "position_before": plain(before), "position_after": plain(pos.quantity),
    }  # fmt: skip
    log.warning(
        "%s %s: position of %r %s -> %s (trade %s FAILED)",
        booked.venue, booked.symbol, owner, before, pos.quantity, booked.trade_id,
    )  # fmt: skip
    node.bus.publish(Event(FILL_REVERSED, node.clock.now_ms(), data, venue=booked.venue,
                           symbol=booked.symbol, severity="warning"))  # fmt: skip
    return data


def reversed_fills(storage: Any) -> set[tuple[str, str]]:
    """(venue, trade id) of every fill whose position move was reversed."""
    stored = storage.kv_get(REVERSED_KEY)
    done = stored if isinstance(stored, dict) else {}
    return {(venue, trade_id) for venue, ids in done.items() for trade_id in ids}


def _trip_closed_by(portfolio: Any, storage: Any, booked: Fill, owner: str) -> ClosedTrade | None:
    """The round trip `booked` closed (or flipped), if any: it holds the average it closed at.
    This run's, else its closed row (a trip closed before a restart is not in memory)."""
    for trip in reversed(getattr(portfolio, "closed_trades", [])):
        if (trip.venue, trip.symbol, trip.strategy_id) != (booked.venue, booked.symbol, owner):
            continue
        if trip.trade_id:  # named by the trade that closed it: another's closed in that second
            if trip.trade_id == booked.trade_id:  # at that price is not this one
                return trip
        elif (trip.closed_ts, trip.exit_price) == (booked.ts, booked.price):
            return trip
    read = getattr(storage, "closed_trip", None)
    if read is None:
        return None
    return read(booked.venue, booked.symbol, owner, booked.ts, booked.price, booked.trade_id)


def _take_out(pos: Position, booked: Fill, moved: Any, trip: ClosedTrade | None) -> Decimal:
    """`pos` without the signed `moved` base `booked` added, at the fill's price when it had
    added to the position (`_undo_reduce` when it had reduced it); its fee given back. Return
    the gross P&L the fill had realised, taken back here."""
    qty = pos.quantity
    fee_q = booked.fee_in_quote
    pos.fees -= fee_q
    pos.realized_pnl += fee_q
    pos.trip_pnl += fee_q
    after = qty - moved  # the position the fill found
    if after != ZERO and (after > ZERO) != (moved > ZERO):
        return _undo_reduce(pos, booked, moved, after, trip)
    if qty != ZERO and (qty > ZERO) == (moved > ZERO) and abs(moved) <= abs(qty):
        if after == ZERO:
            pos.avg_entry = ZERO
        else:
            cost = abs(qty) * pos.avg_entry - abs(moved) * booked.price
            pos.avg_entry = cost / abs(after)
    elif qty == ZERO:
        pos.avg_entry = booked.price
    pos.quantity = after
    if after == ZERO:
        pos.trip_pnl = pos.trip_max_qty = pos.trip_entry = ZERO
        pos.stop_loss = pos.take_profit = None
    return ZERO


def _undo_reduce(
    pos: Position, booked: Fill, moved: Decimal, found: Decimal, trip: ClosedTrade | None
) -> Decimal:
    """`pos` as the reducing fill `booked` found it (`found`): at the average it had (still the
    position's after a partial close; the closed round trip's `trip` after a close or a flip),
    the gross P&L the fill realised taken back; return that gross."""
    direction = 1 if found > ZERO else -1
    closing = min(abs(moved), abs(found))
    partial = pos.quantity != ZERO and (pos.quantity > ZERO) == (found > ZERO)
    avg = pos.avg_entry if partial or trip is None else trip.entry_price
    gross = (booked.price - avg) * closing * direction if partial or trip is not None else ZERO
    pos.realized_pnl -= gross
    if partial:
        pos.trip_pnl -= gross
    elif trip is not None:  # the round trip reopened as it stood before the fill
        close_fee = booked.fee_in_quote * closing / abs(moved)
        pos.trip_pnl = trip.pnl - gross + close_fee
        pos.trip_max_qty, pos.opened_ts = trip.amount, trip.opened_ts
    pos.avg_entry = avg
    pos.quantity = found
    return gross


def _drop_trip(node: Any, trip: ClosedTrade) -> None:
    """The round trip a failed fill closed, out of this run's closed trades, the strategy's
    trade totals (which count it: this run's fold, or the closed rows read at start) and the
    closed position rows (inside the caller's transaction; put back if its commit is
    refused)."""
    portfolio, storage = node.portfolio, node.storage
    fold = getattr(node, "fold_closed_trades", None)
    totals = fold().get(trip.strategy_id) if fold is not None else None  # all folded now
    trips = getattr(portfolio, "closed_trades", None)
    at = next((i for i, t in enumerate(trips or ()) if t is trip), None)
    if trips is not None and at is not None:
        del trips[at]
        if fold is not None:
            node._closed_seen -= 1
    if totals is not None:
        totals.remove(trip.pnl)
    if storage.keeps_undo:
        storage.on_rollback(lambda: _put_trip_back(node, trips, at, trip, totals))
    drop = getattr(storage, "drop_closed_trip", None)
    if drop is not None:
        drop(trip)


def _put_trip_back(
    node: Any, trips: list | None, at: int | None, trip: ClosedTrade, totals: Any
) -> None:
    if trips is not None and at is not None:
        trips.insert(at, trip)
        if getattr(node, "fold_closed_trades", None) is not None:
            node._closed_seen += 1
    if totals is not None:
        totals.add(trip.pnl)


def _put_back(portfolio: Any, pos: Position, saved: tuple, totals: tuple) -> None:
    for name, value in zip(_FIELDS, saved, strict=True):
        setattr(pos, name, value)
    portfolio.fees_paid, portfolio.realized_pnl = totals
