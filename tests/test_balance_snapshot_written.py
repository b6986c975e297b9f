"""A reconciliation's balances are the last written report of their venue, and every report
told gets a number of its own.

Balance reports a venue pushes are numbered as they are told; a reconciliation's read records
the number told when it began, and a report numbered above it is newer than the read. Two
things kept that order honest only most of the time:
- the figures a reconciliation wrote (`apply_balances`) were not recorded as the venue's last
  written report: an older report that a failed commit of another thread put back was then
  written over them at the next commit;
- the number was counted, then read again after a call (the clock): a report told on another
  thread in between gave both reports the same number, the first one above a read that began
  after it was told, so the read's fresher figures were written over by it.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import Rig, SettableClock, make_rig
from test_fill_commit_rollback import FailingCommit
from tradeguard.execution.reconcile import ReconcileReport
from tradeguard.execution.reconcile_balances import apply_balances
from tradeguard.model.balance import Balance

D = Decimal


def _stored(rig: Rig, asset: str) -> Decimal | None:
    for bal in rig.storage.load_balances("stub"):
        if bal.asset == asset:
            return bal.total
    return None


def _figures(eth: str, venue: str = "stub") -> list[Balance]:
    return [Balance(venue, "ETH", D(eth)), Balance(venue, "USDT", D(1000))]


def _reconciled(rig: Rig, eth: str, told_by: int) -> None:
    report = ReconcileReport(trigger="periodic")
    apply_balances(rig, "stub", _figures(eth), report, told_by=told_by)  # type: ignore[arg-type]


async def test_a_report_put_back_by_a_failed_commit_is_not_written_over_a_later_read(
    tmp_path: Path,
) -> None:
    """The stream's report (2 ETH) is taken into a commit that fails; meanwhile another
    thread's reconciliation reads 5 ETH (after the report was told) and commits. The report
    the failed commit puts back is older than that read: it must not be written over it."""
    rig = make_rig(tmp_path)
    _reconciled(rig, "1", rig.orders.balances_told())  # opens the ledger
    failing = FailingCommit(rig.storage)
    rig.orders.on_balances("stub", _figures("2"))  # told: number 1
    told = rig.orders.balances_told()  # the reconciliation's read begins after it

    reconciliation = threading.Thread(target=_reconciled, args=(rig, "5", told))

    def reconcile_then_fail() -> None:
        if reconciliation.ident is not None:  # the reconciliation's own commit
            return
        # undo entries run newest first: this one before the report is put back
        rig.storage.on_rollback(lambda: (reconciliation.start(), reconciliation.join(10)))
        failing()

    hooks = rig.storage._commit_hooks  # type: ignore[attr-defined]
    hooks[hooks.index(failing)] = reconcile_then_fail
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.flush()  # takes the report (2), its commit fails
    hooks.remove(reconcile_then_fail)
    assert not reconciliation.is_alive() and _stored(rig, "ETH") == D(5)

    rig.orders.flush()  # the next commit

    assert _stored(rig, "ETH") == D(5)  # before: the put-back report (2) written over it
    assert rig.portfolio.book("stub").total("ETH") == D(5)


async def test_a_reconciliations_figures_rolled_back_leave_the_last_written_report(
    tmp_path: Path,
) -> None:
    """A reconciliation whose commit fails wrote nothing: the report written before it is still
    the venue's last written one (a report a later failed commit puts back is compared with
    it, not with figures the database never kept)."""
    rig = make_rig(tmp_path)
    _reconciled(rig, "1", rig.orders.balances_told())
    rig.orders.on_balances("stub", _figures("2"))
    rig.orders.flush()  # written: the venue's last written report
    failing = FailingCommit(rig.storage)
    failing.armed = 1
    with pytest.raises(OperationalError):
        _reconciled(rig, "5", rig.orders.balances_told())
    assert _stored(rig, "ETH") == D(2)
    rig.orders.on_balances("stub", _figures("3"))
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.flush()  # the report (3) is put back: nothing newer was written

    rig.orders.flush()

    assert _stored(rig, "ETH") == D(3)


class _ReadBeginsMidReport(SettableClock):
    """The clock a report asks for its time: while the first report is being told, a
    reconciliation's read begins and another venue reports (the stream threads of two
    venues, the reconciliation's task)."""

    def __init__(self) -> None:
        super().__init__()
        self.rig: Rig | None = None
        self.told_at_read: int | None = None

    def now_ms(self) -> int:
        rig = self.rig
        if rig is not None and self.told_at_read is None:
            self.told_at_read = rig.orders.balances_told()
            other = threading.Thread(
                target=rig.orders.on_balances, args=("other", _figures("7", "other"))
            )
            other.start()
            other.join(10)
        return super().now_ms()


async def test_a_report_is_newer_than_a_read_only_if_it_was_counted_after_the_read_began(
    tmp_path: Path,
) -> None:
    """A read begins and another venue reports while the first report is being told: the
    first report is older than the read exactly when the read's count includes it."""
    clock = _ReadBeginsMidReport()
    rig = make_rig(tmp_path, clock=clock)
    _reconciled(rig, "1", rig.orders.balances_told())
    clock.rig = rig
    rig.orders.on_balances("stub", _figures("2"))
    clock.rig = None
    assert clock.told_at_read is not None and rig.orders.balances_told() == 2
    counted_before_the_read = clock.told_at_read == 1  # only the first report precedes it

    _reconciled(rig, "5", clock.told_at_read)  # the read's figures
    rig.orders.flush()

    # before: counted before the read, the report took the other's number (2) and was
    # written over the read's fresher figures
    assert _stored(rig, "ETH") == (D(5) if counted_before_the_read else D(2))
