"""The balance sync's figures are not written over by a report the venue told before its read.

A venue's stream tells a balance report; it waits for the next commit. The balance sync then
reads the venue and commits its figures, and the ledger takes them. The sync's own commit ran
the queued (older) report's write after its figures: the database kept the older report while
the ledger held the read, so a restart loaded balances the running node did not have. The
sync now drops a report told before its read and records its figures as the venue's last
written report, as a reconciliation's read does; a report told during the read is newer, and
is written after them.
"""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from execution_stubs import Rig, make_rig
from test_fill_commit_rollback import FailingCommit
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.model.balance import Balance

D = Decimal


def _figures(usdt: int) -> list[Balance]:
    return [Balance("stub", "USDT", D(usdt)), Balance("stub", "BTC", D(1))]


def _stored(rig: Rig) -> dict[str, Decimal]:
    return {b.asset: b.total for b in rig.storage.load_balances("stub") if b.total}


def _sync(rig: Rig) -> BalanceSync:
    return BalanceSync(
        rig.venues, rig.portfolio, rig.storage, rig.bus, rig.clock, reports=rig.orders
    )


async def test_a_report_told_before_the_sync_read_is_not_written_over_its_figures(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    book = rig.portfolio.book("stub")
    book.set("USDT", D(10_000))
    book.set("BTC", D(1))
    rig.orders.on_balances(
        "stub", [Balance("stub", "USDT", D(10_000)), Balance("stub", "BTC", D(1))]
    )
    rig.venue.balances["USDT"] = D(10_250)  # a deposit after the report

    await _sync(rig).sync_once()

    assert book.total("USDT") == D(10_250)
    # what a restart loads equals the ledger (before: the queued report, 10,000, was written
    # in the sync's own commit, after its figures)
    assert _stored(rig) == {"USDT": D(10_250), "BTC": D(1)}
    rig.orders.flush()
    assert _stored(rig) == {"USDT": D(10_250), "BTC": D(1)}


async def test_a_report_told_during_the_sync_read_is_written_after_its_figures(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    book = rig.portfolio.book("stub")
    book.set("USDT", D(10_000))
    book.set("BTC", D(1))
    venue = rig.venue
    read = venue.fetch_balances

    async def read_then_report() -> list[Balance]:
        figures = await read()
        # the stream tells a newer report while the answer is on its way
        rig.orders.on_balances(
            "stub", [Balance("stub", "USDT", D(10_300)), Balance("stub", "BTC", D(1))]
        )
        return figures

    venue.fetch_balances = read_then_report  # type: ignore[method-assign]
    venue.balances["USDT"] = D(10_250)

    await _sync(rig).sync_once()
    rig.orders.flush()

    assert _stored(rig) == {"USDT": D(10_300), "BTC": D(1)}


async def test_a_report_put_back_by_a_failed_commit_is_not_written_over_the_sync_read(
    tmp_path: Path,
) -> None:
    """The stream's report (2 BTC) is taken into a commit that fails; meanwhile the balance
    sync reads 5 BTC (after the report was told) and commits. The report the failed commit
    puts back is older than that read: written at the next commit it would leave the database
    at 2 while the ledger took 5 (the sync's figures, recorded as the venue's last written
    report, rank it)."""
    rig = make_rig(tmp_path)
    book = rig.portfolio.book("stub")
    book.set("USDT", D(10_000))
    book.set("BTC", D(1))
    failing = FailingCommit(rig.storage)
    rig.orders.on_balances(
        "stub", [Balance("stub", "USDT", D(10_000)), Balance("stub", "BTC", D(2))]
    )
    rig.venue.balances.update({"USDT": D(10_000), "BTC": D(5)})
    sync = threading.Thread(target=lambda: asyncio.run(_sync(rig).sync_once()))

    def sync_then_fail() -> None:
        if sync.ident is not None:  # the sync's own commit
            return
        # undo entries run newest first: this one before the report is put back
        rig.storage.on_rollback(lambda: (sync.start(), sync.join(10)))
        failing()

    hooks = rig.storage._commit_hooks  # type: ignore[attr-defined]
    hooks[hooks.index(failing)] = sync_then_fail
    failing.armed = 1
    with pytest.raises(OperationalError):
        rig.orders.flush()  # takes the report (2 BTC), its commit fails
    hooks.remove(sync_then_fail)
    assert not sync.is_alive() and book.total("BTC") == D(5)
    assert _stored(rig)["BTC"] == D(5)

    rig.orders.flush()  # the next commit

    assert _stored(rig) == {"USDT": D(10_000), "BTC": D(5)}  # as the ledger has it
