"""A trade made while a reconciliation's balance read is on its way, neither streamed (no
user channel, or it lagged) nor in the listing the catch-up read before it: the figures hold
it, the ledger does not. Before, the difference was booked as an adjustment (a deposit of
one asset and a withdrawal of the other, to the cash flows), and the next reconciliation
listed the trade and booked it as a fill on top: the durable ledger held it twice, so a
restart's reconciliation reported the difference and the start-up audit halted (a periodic
one booked a second, reversing adjustment). A read differing from the ledger is followed by
a listing: the trade is booked as a fill and the balances read again, no adjustment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, make_rig
from tradeguard.execution.ledger_audit import audit_storage
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill

D = Decimal
S = 1_796_600_000  # a whole second, epoch


async def test_a_trade_made_during_the_balance_read_is_booked_once_as_a_fill(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    venue = rig.venue
    rig.clock.ms = S * 1000
    opening = await reconcile_all(rig)  # the ledger opens
    assert opening.ok, opening.reason
    rig.clock.ms = (S + 60) * 1000
    hand = Fill("stub", SYMBOL, "", "", "h1", Side.BUY, D(50000), D("0.01"), D(0), "USDT",
                LiquiditySide.TAKER, rig.clock.ms + 100)  # fmt: skip
    read = venue.fetch_balances
    reads: list[int] = []

    async def fetch_balances() -> list[Balance]:
        if not reads:  # bought by hand once the catch-up listed: not streamed
            venue.fills.append(hand)
            venue.balances["BTC"] += D("0.01")
            venue.balances["USDT"] -= 500
        reads.append(rig.clock.ms)
        return await read()

    venue.fetch_balances = fetch_balances  # type: ignore[method-assign]
    periodic = await reconcile_all(rig, "periodic")
    assert periodic.ok and not periodic.balances_deferred, periodic.reason

    def held_once() -> None:
        assert [f.trade_id for f in rig.storage.load_fills()] == ["h1"]
        assert rig.storage.load_balance_adjustments("stub") == []  # a trade, no cash flow
        assert rig.portfolio.book("stub").total("BTC") == D("1.01")
        assert rig.portfolio.book("stub").total("USDT") == D(9500)
        audit = audit_storage(rig.storage, balance_only=rig.orders.balance_only, rounded={"stub"})
        assert audit.ok, audit.describe()

    held_once()
    rig.clock.ms = (S + 120) * 1000
    restart = await reconcile_all(rig)  # a start-up's reconciliation lists it again
    assert restart.ok and not restart.ledger_differences, restart.to_json()
    held_once()
