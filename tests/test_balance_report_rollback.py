"""A venue's balance report taken into a commit that fails is written with the next one.

A venue's report waits for the next commit (`on_balances`). The commit that takes it may fail
(a locked database): a report that predates the failed transaction is still the venue's word
and goes back in the queue, unless a newer report came meanwhile. A report queued inside the
failed transaction counts what that transaction booked, and goes with it.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import SYMBOL, Rig, limit_buy, make_rig
from test_fill_commit_rollback import FailingCommit, _foreign
from tradeguard.model.balance import Balance
from tradeguard.model.enums import Side

D = Decimal


def _stored(rig: Rig, asset: str) -> Decimal | None:
    for bal in rig.storage.load_balances("stub"):
        if bal.asset == asset:
            return bal.total
    return None


def _report(rig: Rig, eth: str) -> None:
    rig.orders.on_balances(
        "stub", [Balance("stub", "ETH", D(eth)), Balance("stub", "USDT", D(1000))]
    )


async def test_a_report_taken_into_a_fills_failed_commit_is_written_with_the_next_commit(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    rig.portfolio.book("stub").set("USDT", D(1000))
    _report(rig, "2")  # a deposit of 2 ETH, told by the venue before the fill
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.on_fill(_foreign("x1", SYMBOL, Side.BUY, "50000", "0.01"))
    assert _stored(rig, "ETH") is None  # nothing of the failed commit is stored

    rig.orders.flush()  # the next commit

    assert _stored(rig, "ETH") == D(2)


async def test_a_report_taken_by_a_failed_commit_hook_is_written_with_the_next_commit(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    _report(rig, "2")
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.flush()  # the commit writing it fails

    rig.orders.flush()

    assert _stored(rig, "ETH") == D(2)


async def test_a_newer_report_is_not_overwritten_by_the_one_a_failed_commit_put_back(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    _report(rig, "2")

    def newer_report() -> None:  # the venue's stream thread reports again as the commit runs
        stream = threading.Thread(target=_report, args=(rig, "3"))
        stream.start()
        stream.join(5)

    hooks = rig.storage._commit_hooks  # type: ignore[attr-defined]
    hooks.insert(hooks.index(failing), newer_report)  # after the queue's write, before the fault
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.flush()
    rig.storage._commit_hooks.remove(newer_report)  # type: ignore[attr-defined]

    rig.orders.flush()

    assert _stored(rig, "ETH") == D(3)


async def test_a_report_queued_inside_a_failed_transaction_goes_with_it(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    _report(rig, "2")
    rig.orders.flush()
    _report(rig, "5")  # waiting: predates the transaction below
    failing.armed = 1
    with pytest.raises(OperationalError), rig.storage.transaction():
        rig.storage.mark_dirty()
        _report(rig, "7")  # counts what the failed transaction booked

    rig.orders.flush()

    assert _stored(rig, "ETH") == D(5)  # the report it replaced, not the one it queued


async def test_a_fill_booked_after_its_failed_commit_stores_the_report_that_predates_it(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    placed = (await rig.orders.submit(limit_buy(amount="0.002", price="50000"))).order
    assert placed is not None
    _report(rig, "2")
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.venue.execute(placed.client_order_id, D("0.002"), D("50000"))

    rig.orders.on_fill(rig.venue.fills[-1])  # the venue tells it again: booked now

    assert _stored(rig, "ETH") == D(2)
    assert [f.trade_id for f in rig.storage.load_fills()] == [rig.venue.fills[-1].trade_id]


async def test_a_report_a_failed_reconciliation_dropped_is_written_with_the_next_commit(
    tmp_path: Path,
) -> None:
    """Reconciliation drops the venue's queued report for the figures it reads (fresher); when
    its commit fails those figures are not kept, and the report is still the venue's word."""
    from tradeguard.execution.reconcile import ReconcileReport
    from tradeguard.execution.reconcile_balances import apply_balances

    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    _report(rig, "2")  # waiting for the next commit
    failing.armed = 1
    read = [Balance("stub", "ETH", D(2)), Balance("stub", "USDT", D(1000))]
    with pytest.raises(OperationalError):
        apply_balances(rig, "stub", read, ReconcileReport(trigger="periodic"))  # type: ignore[arg-type]
    assert _stored(rig, "ETH") is None

    rig.orders.flush()  # the next commit

    assert _stored(rig, "ETH") == D(2)


async def test_a_report_a_failed_reconciliation_put_back_never_overwrites_a_newer_one_written(
    tmp_path: Path,
) -> None:
    """The venue reports again and another thread's commit writes that report while the
    reconciliation's commit fails: the older report it had dropped is not put back over it."""
    from tradeguard.execution.reconcile import ReconcileReport
    from tradeguard.execution.reconcile_balances import apply_balances

    rig = make_rig(tmp_path)
    failing = FailingCommit(rig.storage)
    _report(rig, "2")  # waiting for the next commit: dropped by the reconciliation below

    def newer_report_written() -> None:  # the stream thread reports 3, its commit writes it
        _report(rig, "3")
        rig.orders.flush()  # waits for the database until the failed commit has rolled back

    stream = threading.Thread(target=newer_report_written)

    def start_the_stream_then_fail() -> None:
        if stream.ident is not None:  # the stream's own commit
            return
        stream.start()
        rig.storage.on_rollback(lambda: stream.join(10))  # its commit lands before the undo
        failing()

    hooks = rig.storage._commit_hooks  # type: ignore[attr-defined]
    hooks[hooks.index(failing)] = start_the_stream_then_fail
    failing.armed = 1
    read = [Balance("stub", "ETH", D(2)), Balance("stub", "USDT", D(1000))]
    with pytest.raises(OperationalError):
        apply_balances(rig, "stub", read, ReconcileReport(trigger="periodic"))  # type: ignore[arg-type]
    hooks.remove(start_the_stream_then_fail)
    assert not stream.is_alive() and _stored(rig, "ETH") == D(3)

    rig.orders.flush()  # the next commit

    assert _stored(rig, "ETH") == D(3)  # before: the put-back report (2) written over it
