"""The venues' balance reports: queued for the next commit, numbered as they are told, and
ranked against the reads of reconciliations (`execution.reconcile_balances`).

A venue reports its balances after every change; only its last report before a commit is
written. Each report gets a number as it is counted (`balances_told`): a reconciliation's read
records the count as it begins, and a report numbered above it is newer than the read. The
figures last written per venue (a report, or a reconciliation's read) decide whether a report a
failed commit puts back is still the newest.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance

if TYPE_CHECKING:
    import threading

# A venue's balance report waiting for a commit: the balances, every venue's marks and the
# venue's own to value them at, when the venue reported them, and its number in the order
# reports were told (`balances_told`). The balances may be what builds them
# (`on_balances_later`): taken at the write.
_Report = tuple[
    list[Balance] | Callable[[], list[Balance]], dict[str, Decimal], dict[str, Decimal], int, int
]


class BalanceReports:
    """What the order manager keeps of the venues' balance reports until they are written."""

    storage: Any
    portfolio: Any
    clock: Clock
    _pending_balances: dict[str, _Report]
    _balances_told: int  # how many balance reports were told (their numbers)
    _balances_lock: threading.Lock  # counts them: stream threads tell reports at once
    _balances_written: dict[str, _Report]  # the last report written per venue

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        """Record the venue's balances (the source of truth); written with the next commit."""
        # Valued at the write, at the marks of now: a venue reports after every fill, and only
        # its last report before a commit is written.
        # the venue's own prices where it has them, else the latest from any venue
        marks, own = dict(self.portfolio.marks), dict(self.portfolio.marks_of(venue) or {})
        report = (balances, marks, own, self.clock.now_ms(), self._tell_balances())
        if self.storage.keeps_undo:
            # told inside this thread's open transaction: it counts what the transaction booked
            # and goes with it if it rolls back, leaving the report it replaced waiting
            replaced = self._pending_balances.get(venue)
            self.storage.on_rollback(partial(self._unqueue_balances, venue, report, replaced))
        self._pending_balances[venue] = report

    def on_balances_later(self, venue: str, take: Callable[[], list[Balance]]) -> bool:
        """`on_balances` for a venue whose every balance change is followed by a push: inside a
        write batch's unit (a backtest), where only the last report before the commit is
        written, keep `take` (which builds the list) and call it at the write, when it gives
        the list pushed last; the marks are copied now, as `on_balances` does. False
        elsewhere: the venue pushes its list now."""
        if not self.storage.batches_writes:
            return False
        marks, own = dict(self.portfolio.marks), dict(self.portfolio.marks_of(venue) or {})
        now, number = self.clock.now_ms(), self._tell_balances()
        self._pending_balances[venue] = (take, marks, own, now, number)
        return True

    def _tell_balances(self) -> int:
        """Count a balance report told and return its number, one of its own: venues' stream
        threads tell theirs at the same time, and a number read again after the count (or two
        reports of one number) would rank a report told before a read as newer than it."""
        with self._balances_lock:
            self._balances_told += 1
            return self._balances_told

    def balances_told(self) -> int:
        """The number of the last balance report told (any venue): a read of the venue's
        balances begun now predates every report numbered above it."""
        return self._balances_told

    def discard_pending_balances(self, venue: str, told_by: int | None = None) -> None:
        """Drop balances queued for `venue` (a fresher snapshot is being written); if that
        write's commit fails, they wait for the next commit again. With `told_by` (the
        `balances_told` when the snapshot was read) a report told after the read is newer:
        it stays queued, or, written already, is queued again: written after the snapshot."""
        pending = self._pending_balances.get(venue)
        if pending is None:
            if told_by is not None:
                self._queue_again_if_newer(venue, told_by)
            return
        if told_by is not None and pending[4] > told_by:
            return
        del self._pending_balances[venue]
        if self.storage.keeps_undo:
            self.storage.on_rollback(partial(self._put_back_balances, venue, pending))

    def balances_written(self, venue: str, balances: list[Balance], told_by: int | None) -> None:
        """Record figures a reconciliation writes in the open transaction (read when
        `balances_told` was `told_by`) as `venue`'s last written report: one told up to
        `told_by` is older, and one a failed commit puts back is not written over them. If
        the transaction rolls back, the report written before is the last one again."""
        number = self._balances_told if told_by is None else told_by
        marks, own = dict(self.portfolio.marks), dict(self.portfolio.marks_of(venue) or {})
        self._record_written(venue, (balances, marks, own, self.clock.now_ms(), number))

    def _record_written(self, venue: str, report: _Report) -> None:
        before = self._balances_written.get(venue)
        self._balances_written[venue] = report
        if self.storage.keeps_undo:
            self.storage.on_rollback(partial(self._unwritten, venue, report, before))

    def _unwritten(self, venue: str, report: _Report, before: _Report | None) -> None:
        # not written after all; a newer one written since (another thread's commit) stays
        if self._balances_written.get(venue) is report:
            if before is None:
                del self._balances_written[venue]
            else:
                self._balances_written[venue] = before

    def _queue_again_if_newer(self, venue: str, told_by: int) -> None:
        last = self._balances_written.get(venue)
        if last is None or last[4] <= told_by:
            return
        self._pending_balances[venue] = last
        if self.storage.keeps_undo:  # not written over: the database keeps it as it is
            self.storage.on_rollback(partial(self._unqueue_balances, venue, last, None))

    def _unqueue_balances(self, venue: str, report: _Report, replaced: _Report | None) -> None:
        # A report told inside a transaction that rolled back counts the fills it held: written
        # later, alone, it would leave balances the journal's fills do not explain. The one it
        # replaced (told before) waits again; a newer one (another thread's) stays.
        if self._pending_balances.get(venue) is report:
            if replaced is None:
                del self._pending_balances[venue]
            else:
                self._pending_balances[venue] = replaced

    def _put_back_balances(self, venue: str, report: _Report) -> None:
        # A report taken into a commit that rolled back is still the venue's word: it waits for
        # the next commit, unless a newer report of the venue came meanwhile (queued, or
        # written by another thread's commit: put back, it would be written over that one).
        written = self._balances_written.get(venue)
        if written is None or written[4] < report[4]:
            self._pending_balances.setdefault(venue, report)

    def _write_pending_balances(self, venue: str) -> None:
        pending = self._pending_balances.pop(venue, None)
        if pending is not None:
            if self.storage.keeps_undo:
                self.storage.on_rollback(partial(self._put_back_balances, venue, pending))
            self._record_written(venue, pending)
            taken, marks, own, ts, _ = pending
            balances = taken() if callable(taken) else taken
            usd, elsewhere = self.portfolio.values_on(venue, balances, marks, own)
            self.storage.upsert_balances(venue, balances, usd, ts, elsewhere)
