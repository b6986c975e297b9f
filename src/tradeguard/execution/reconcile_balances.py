"""Reconciliation's balance step: the venue's figures become the ledger's, each difference booked.

A venue's first reconciliation opens its ledger (the audit's start) at the venue's figures. At
start-up the venue is compared with the durable ledger (start + fills - fees + adjustments): only
a difference within the fees' rounding is booked, a larger one is reported for the ledger audit.
Between starts every difference is booked, dust within the balance sync's tolerance named so
that it is no cash flow (`node/cash_flows.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.execution.balance_sync import (
    WITHIN_TOLERANCE,
    Discrepancy,
    beyond_tolerance,
    within_tolerance_event,
)
from tradeguard.execution.failed_fills import (
    FAILED_ON_CHAIN,
    failed_moves,
    failed_taken,
    flag_failed_fills,
)
from tradeguard.execution.host import ReconcileHost
from tradeguard.execution.ledger_audit import (
    record_start_balances,
    stored_start_balances,
    venue_ledger,
)
from tradeguard.execution.reconcile_call import database_failed
from tradeguard.model.balance import Balance
from tradeguard.model.money import ZERO, plain
from tradeguard.portfolio.undo import book_undo

if TYPE_CHECKING:
    from tradeguard.execution.reconcile import ReconcileReport

log = logging.getLogger(__name__)


def differs_from_ledger(node: ReconcileHost, venue: str, balances: list[Balance]) -> bool:
    """Tell whether the venue's figures differ from its book's totals (a trade the ledger
    lacks, a cash flow, or the fees' rounding)."""
    book = node.portfolio.book(venue)
    held = {b.asset: b.total for b in balances}
    return any(held.get(a, ZERO) != book.total(a) for a in set(held) | set(book.assets()))


def apply_balances_or_fail(
    node: ReconcileHost,
    venue: str,
    balances: list[Balance],
    report: ReconcileReport,
    read_ts: int | None = None,
    told_by: int | None = None,
) -> None:
    """`apply_balances`, whose failed commit (a locked database, a full disk) fails the venue's
    reconciliation instead of ending the run: nothing of it was kept (the ledger is put back
    as the journal has it), the failure halts trading until a reconciliation writes the
    venue's balances (one that defers them keeps the halt), and the next one reads the venue's
    figures again."""
    try:
        apply_balances(node, venue, balances, report, read_ts, told_by)
    except SQLAlchemyError as exc:
        failed = database_failed(venue, "the balances' commit", exc, "reads them again")
        node.orders.balances_owed[venue] = str(failed)  # the halt waits for them (gate)
        raise failed from exc
    node.orders.balances_owed.pop(venue, None)


def apply_balances(
    node: ReconcileHost,
    venue: str,
    balances: list[Balance],
    report: ReconcileReport,
    read_ts: int | None = None,
    told_by: int | None = None,
) -> None:
    """Make the ledger and the database take the venue's balances, recording each difference
    (at start-up, against the durable ledger); a first reconciliation opens the ledger.
    `told_by` is the orders' `balances_told` when the read began: a balance report the venue
    pushed after it is newer than the read, and is written after its figures."""
    book = node.portfolio.book(venue)
    by_asset = {b.asset: b for b in balances}
    now = node.clock.now_ms()
    start = stored_start_balances(node.storage).get(venue)
    durable: dict[str, Decimal] | None = None
    rounding: dict[str, Decimal] = {}
    if start is None or report.trigger == "startup":
        durable, rounding = venue_ledger(node.storage, venue)
    trading = node.venues.get(venue)
    if getattr(trading, "failed_fills", None):
        # read FAILED since the flag step (a listing during the balance read): flagged now, so
        # the fills flagged and not yet taken hold them, and their difference is theirs
        report.fills_failed += flag_failed_fills(node, venue, trading)
    failed = failed_moves(node.storage, venue)  # money that never moved
    rows: list[Balance] = []
    with node.storage.transaction():
        # a failed commit keeps no adjustment: the ledger keeps no venue figure either, so the
        # next reconciliation finds the difference again and records it
        node.storage.on_rollback(partial(_put_back, node, book_undo(book)))
        if start is None:
            # The venue's first reconciliation: its ledger starts at the venue's figures.
            assert durable is not None
            opening = {a: by_asset[a].total if a in by_asset else ZERO for a in by_asset}
            for asset, moved in durable.items():
                opening[asset] = opening.get(asset, ZERO) - moved
            record_start_balances(node.storage, venue, opening, read_ts)
            durable = None
        assets = set(by_asset) | set(book.assets()) | set(durable or ()) | set(start or ())
        for asset in sorted(assets):
            truth = by_asset.get(asset) or Balance(venue, asset, ZERO, ZERO)
            if durable is not None:
                ledger = (start or {}).get(asset, ZERO) + durable.get(asset, ZERO)
            elif start is None:
                ledger = truth.total
            else:
                ledger = book.total(asset)
            if ledger != truth.total:
                explained = (rounding.get(asset, ZERO), failed.get(asset, ZERO))
                _book_difference(node, venue, asset, ledger, truth.total, explained, report)
            book.set(asset, truth.free, truth.locked)
            rows.append(Balance(venue, asset, truth.free, truth.locked))
        failed_taken(node.storage, venue)
        node.invalidate_equity()  # the cached equity and held symbols predate these figures
        usd, elsewhere = node.portfolio.values_on(venue, rows)
        # Fresher than anything a stream queued before the read: drop the queued write (one
        # queued since is newer, and is written after these figures).
        node.orders.discard_pending_balances(venue, told_by)
        # the venue's last written report now: one told before the read, that a failed commit
        # of another thread puts back, is older and is not written over these figures
        node.orders.balances_written(venue, rows, told_by)
        node.storage.upsert_balances(venue, rows, usd, ts=now, elsewhere=elsewhere)
    book.read_from_venue = True


def _put_back(node: ReconcileHost, undo: Callable[[], None]) -> None:
    undo()
    node.invalidate_equity()  # read from the figures just taken away


def _book_difference(
    node: ReconcileHost,
    venue: str,
    asset: str,
    ledger: Decimal,
    venue_total: Decimal,
    explained: tuple[Decimal, Decimal],
    report: ReconcileReport,
) -> None:
    """Record a difference as an adjustment; at start-up, only within the fees' rounding or
    what fills flagged FAILED moved (`explained`: the rounding, that move), named so."""
    rounding, failed = explained
    never_moved = failed != 0 and abs(venue_total - ledger + failed) <= rounding
    row = {
        "venue": venue,
        "asset": asset,
        "ledger": plain(ledger),
        "venue_total": plain(venue_total),
        "difference": plain(venue_total - ledger),
    }
    if report.trigger == "startup" and not never_moved and abs(venue_total - ledger) > rounding:
        log.error(
            "venue %s %s: the venue holds %s but the ledger (start + fills - fees + "
            "adjustments) says %s; not booked as an adjustment (see `tradeguard doctor`)",
            venue, asset, venue_total, ledger,
        )  # fmt: skip
        report.ledger_differences.append(row)
        return
    # At start-up only a difference within the fees' rounding gets here: a venue crediting
    # its asset's precision against a ledger booking price * amount in full. Named apart, it
    # is no cash flow (`node/cash_flows.py`): no critical alert for 1e-8 BTC.
    why = f"reconcile ({report.trigger})"
    rc = node.config.reconcile
    if never_moved:  # no cash flow (`node/cash_flows.py`): the trade never settled
        why += f": {FAILED_ON_CHAIN}"
    elif report.trigger == "startup":
        why += ": within the fees' rounding"
    else:
        # between starts, dust the balance sync would take quietly is no cash flow either
        if not beyond_tolerance(
            ledger, venue_total, rc.balance_tolerance_abs, rc.balance_tolerance_pct
        ):
            why += f": {WITHIN_TOLERANCE}"
    now = node.clock.now_ms()
    node.storage.record_balance_adjustment(venue, asset, ledger, venue_total, why, now)
    if WITHIN_TOLERANCE in why and abs(venue_total - ledger) > rc.balance_tolerance_abs:
        # no rounding explains it: said as the balance sync says it (money may have moved)
        d = Discrepancy(venue, asset, ledger, venue_total)
        price = node.portfolio.price_of(asset)
        value = None if price is None else d.difference * price
        node.bus.publish(within_tolerance_event(venue, d, value, now))
    # listed as booked only if its commit keeps it: a failed one leaves it to the next pass
    node.storage.on_rollback(partial(report.balance_adjustments.remove, row))
    report.balance_adjustments.append(row)
