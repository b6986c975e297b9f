"""A reconciliation whose balance commit fails leaves the ledger as the database has it.

Reconciliation makes the ledger take the venue's figures and records each difference as an
adjustment, in one commit. When that commit fails (a locked database) no adjustment is stored:
the ledger in memory must not keep the venue's figures either, or the next reconciliation finds
no difference and the deposit it saw is never recorded (the ledger audit then finds stored
balances its start, fills and adjustments do not explain).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import make_rig
from test_fill_commit_rollback import FailingCommit
from tradeguard.execution.reconcile import ReconcileReport, reconcile_all
from tradeguard.execution.reconcile_balances import apply_balances
from tradeguard.model.balance import Balance
from tradeguard.model.events import EventKind
from tradeguard.model.money import plain

D = Decimal


async def test_a_deposit_whose_reconciliation_commit_fails_is_recorded_by_the_next_one(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    first = await reconcile_all(rig, "periodic")  # opens the ledger at the venue's figures
    assert first.ok, first.reason
    book = rig.portfolio.book("stub")
    assert book.total("USDT") == D(10_000)
    rig.venue.balances["USDT"] = D(10_500)  # a deposit
    failing = FailingCommit(rig.storage)
    failing.armed = 1
    failed = await reconcile_all(rig, "periodic")  # the balance step's commit fails
    # a failed reconciliation (it halts trading until one completes), said with its cause and
    # alerted; before: the commit's error ended the reconciliation, and the live run with it
    assert not failed.ok
    assert "stub: the balances' commit failed" in failed.reason
    assert "database is locked" in failed.reason and "next reconciliation" in failed.reason
    [alert] = [e for e in rig.events if e.kind == EventKind.RECONCILE_FAILED]
    assert alert.severity == "critical" and alert.data["reason"] == failed.reason
    assert book.total("USDT") == D(10_000)  # as the journal has it
    assert rig.storage.load_balance_adjustments("stub") == []

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    [adjustment] = rig.storage.load_balance_adjustments("stub")
    assert adjustment["asset"] == "USDT"
    assert D(str(adjustment["difference"])) == D(500)
    assert book.total("USDT") == D(10_500)


async def test_a_report_lists_only_the_adjustments_its_commit_kept(tmp_path: Path) -> None:
    """The balance step adds each booked difference to the report before the commit; a commit
    that fails keeps none of them, and neither may the report: the next pass books and lists
    the difference again."""
    rig = make_rig(tmp_path)
    assert (await reconcile_all(rig, "periodic")).ok  # opens the ledger at the venue's figures
    deposit = [Balance("stub", "USDT", D(10_500)), Balance("stub", "BTC", D(1))]
    failing = FailingCommit(rig.storage)
    failing.armed = 1
    report = ReconcileReport(trigger="periodic")
    with pytest.raises(OperationalError):
        apply_balances(rig, "stub", deposit, report)  # type: ignore[arg-type]
    assert rig.storage.load_balance_adjustments("stub") == []
    assert report.balance_adjustments == []  # nothing of it was kept

    again = ReconcileReport(trigger="periodic")
    apply_balances(rig, "stub", deposit, again)  # type: ignore[arg-type]

    [stored] = rig.storage.load_balance_adjustments("stub")
    [listed] = again.balance_adjustments
    assert (listed["asset"], listed["difference"]) == ("USDT", "500") == (
        stored["asset"], plain(D(str(stored["difference"]))),
    )  # fmt: skip


async def test_a_report_inside_a_failed_outer_commit_lists_no_adjustment(tmp_path: Path) -> None:
    """Run inside an open transaction (its commit joins the outer one), the step's adjustments
    are listed only if the outer commit keeps them."""
    rig = make_rig(tmp_path)
    assert (await reconcile_all(rig, "periodic")).ok
    deposit = [Balance("stub", "USDT", D(10_500)), Balance("stub", "BTC", D(1))]
    failing = FailingCommit(rig.storage)
    failing.armed = 1
    report = ReconcileReport(trigger="periodic")
    with pytest.raises(OperationalError), rig.storage.transaction():
        apply_balances(rig, "stub", deposit, report)  # type: ignore[arg-type]
        assert len(report.balance_adjustments) == 1  # booked, not committed yet
    assert report.balance_adjustments == []
    assert rig.portfolio.book("stub").total("USDT") == D(10_000)
