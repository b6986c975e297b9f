"""A venue's first start: a trade of no journal order (by hand) streamed while the opening's
balance read is on its way. The read may or may not hold it, so the opening waits (deferred);
the trade stays booked. The opening at the next reconciliation must hold it once: either in
the opening figures or booked after them, never both (the ledger audit would halt on the
difference), and a later reconciliation listing it books it no second time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, make_rig
from tradeguard.execution.ledger_audit import audit_storage, stored_start_balances
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill

D = Decimal
S = 1_796_600_000  # a whole second, epoch


async def test_a_trade_streamed_during_the_opening_read_is_held_once(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    venue = rig.venue
    rig.clock.ms = S * 1000 + 100
    hand = Fill("stub", SYMBOL, "", "", "h1", Side.BUY, D(50000), D("0.01"), D(0), "USDT",
                LiquiditySide.TAKER, S * 1000 + 200)  # fmt: skip
    read = venue.fetch_balances
    reads: list[int] = []

    async def fetch_balances() -> list[Balance]:
        if not reads:  # bought by hand during the first read: streamed, the figures hold it
            venue.fills.append(hand)
            venue.balances["BTC"] += D("0.01")
            venue.balances["USDT"] -= 500
            rig.orders.on_fill(hand)
        reads.append(rig.clock.ms)
        return await read()

    venue.fetch_balances = fetch_balances  # type: ignore[method-assign]
    first = await reconcile_all(rig)
    assert first.ok, first.reason
    assert [d["venue"] for d in first.balances_deferred] == ["stub"]  # the opening waits
    assert [f.trade_id for f in rig.storage.load_fills()] == ["h1"]  # booked, streamed

    for second in (S + 5, S + 3600):  # the opening, then a later pass listing the trade again
        rig.clock.ms = second * 1000
        report = await reconcile_all(rig)
        assert report.ok and not report.balances_deferred, report
        assert [f.trade_id for f in rig.storage.load_fills()] == ["h1"]
        assert rig.storage.load_balance_adjustments("stub") == []
        audit = audit_storage(rig.storage, balance_only=rig.orders.balance_only, rounded={"stub"})
        assert audit.ok, audit.describe()
        assert rig.portfolio.book("stub").total("BTC") == D("1.01")
    assert stored_start_balances(rig.storage)["stub"]["BTC"] + D("0.01") == D("1.01")
