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
from tradeguard.execution.reconcile import reconcile_all

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
    with pytest.raises(OperationalError):
        await reconcile_all(rig, "periodic")  # the balance step's commit fails
    assert book.total("USDT") == D(10_000)  # as the journal has it
    assert rig.storage.load_balance_adjustments("stub") == []

    again = await reconcile_all(rig, "periodic")

    assert again.ok, again.reason
    [adjustment] = rig.storage.load_balance_adjustments("stub")
    assert adjustment["asset"] == "USDT"
    assert D(str(adjustment["difference"])) == D(500)
    assert book.total("USDT") == D(10_500)
