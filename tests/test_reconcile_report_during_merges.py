"""A balance report the venue pushes while reconciliation checks its read for merges is newer
than that read: it is written after the read's figures, not dropped for them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import make_rig
from tradeguard.execution.ledger_audit import START_BALANCES_KEY
from tradeguard.execution.reconcile import ReconcileReport, reconcile_all
from tradeguard.execution.reconcile_balances import apply_balances
from tradeguard.model.balance import Balance
from tradeguard.model.fill import Fill

D = Decimal


async def test_a_report_pushed_during_the_merge_check_outlives_the_older_read(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    book = rig.portfolio.book("stub")
    book.set("M:YES", D(10))
    book.set("USD", D(100))
    rig.storage.kv_set(START_BALANCES_KEY, {"stub": {"M:YES": "10", "USD": "100"}})
    venue = rig.venue
    venue.balances = {"USD": D(104)}  # YES sold outside the node, the cash up: a merge check
    pushed: list[str] = []

    async def listing_while_a_deposit_is_pushed(symbol: str) -> tuple[list[Fill], bool]:
        pushed.append(symbol)
        if len(pushed) == 1:  # a deposit lands, the venue's stream tells it
            venue.balances["USD"] = D(150)
            rig.orders.on_balances("stub", [Balance("stub", "USD", D(150))])
        return [], True  # no trade of the market listed

    venue.fetch_fills_part = listing_while_a_deposit_is_pushed  # type: ignore[attr-defined]

    report = await reconcile_all(rig, trigger="periodic")

    assert pushed == ["M:YES/USD", "M:NO/USD"], pushed
    assert report.balances_deferred == [], report.balances_deferred
    stored = {b.asset: b.total for b in rig.storage.load_balances("stub")}
    # before: the read's 104 stored, the pushed 150 dropped for it
    assert stored.get("USD") == D(150), stored
    assert book.total("USD") == D(104)  # memory takes the read; the next pass books the deposit


def test_a_report_still_queued_at_the_apply_is_kept_only_if_told_after_the_read(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.storage.kv_set(START_BALANCES_KEY, {"stub": {"USD": "100"}})
    rig.portfolio.book("stub").set("USD", D(100))
    rig.orders.on_balances("stub", [Balance("stub", "USD", D(90))])  # before the read
    told = rig.orders.balances_told()  # the read begins
    read = [Balance("stub", "USD", D(100))]
    apply_balances(rig, "stub", read, ReconcileReport(trigger="periodic"), 1, told)  # type: ignore[arg-type]
    rig.orders.flush()
    assert {b.asset: b.total for b in rig.storage.load_balances("stub")} == {"USD": D(100)}

    told = rig.orders.balances_told()  # the next read begins
    rig.orders.on_balances("stub", [Balance("stub", "USD", D(120))])  # after it: newer
    apply_balances(rig, "stub", read, ReconcileReport(trigger="periodic"), 2, told)  # type: ignore[arg-type]
    assert {b.asset: b.total for b in rig.storage.load_balances("stub")} == {"USD": D(120)}
