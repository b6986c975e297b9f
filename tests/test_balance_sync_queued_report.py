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

from decimal import Decimal
from pathlib import Path

from execution_stubs import Rig, make_rig
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
