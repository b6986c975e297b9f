"""A venue's first reconciliation on a netting venue lists its trades again after the balance
read (`_reconcile_balances`' catch-up): a trade of no journal order that listing finds is held
by the opening as the first listing's are, so it is kept with the opening's trades and the
balances are read again after it; a trade stamped with the opening's whole second is then never
booked a second time at the next reconciliation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, make_rig
from tradeguard.execution.ledger_audit import stored_start_ts
from tradeguard.execution.ledger_opening import opening_trades
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill

D = Decimal
S = 1_796_600_000  # a whole second, epoch


async def test_a_trade_the_recheck_lists_at_the_opening_is_never_booked_later(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    venue = rig.venue
    venue.nets_outcome_pairs = True  # type: ignore[attr-defined]  # lists trades after the read
    rig.clock.ms = S * 1000 + 100  # the catch-up lists no trade yet
    hand = Fill("stub", SYMBOL, "", "", "h1", Side.BUY, D(50000), D("0.01"), D(0), "USDT",
                LiquiditySide.TAKER, S * 1000)  # fmt: skip  # made at .300, dated to the second
    listed = venue.fetch_fills
    read = venue.fetch_balances
    reads = []

    async def fetch_fills(symbol: str, since_ts: int = 0) -> list[Fill]:
        got = await listed(symbol, since_ts)
        if not reads:  # the first listing, before the balance read at .500
            rig.clock.ms = S * 1000 + 500
        return got

    async def fetch_balances() -> list[Balance]:
        if not reads:  # bought by hand just before the first read: the figures hold it
            venue.fills.append(hand)
            venue.balances["BTC"] += D("0.01")
            venue.balances["USDT"] -= 500
        reads.append(rig.clock.ms)
        answer = await read()
        rig.clock.ms += 300
        return answer

    venue.fetch_fills = fetch_fills  # type: ignore[method-assign]
    venue.fetch_balances = fetch_balances  # type: ignore[method-assign]

    first = await reconcile_all(rig)
    assert first.ok, first.reason
    assert "stub" in stored_start_ts(rig.storage)  # the ledger opened at this reconciliation
    assert rig.storage.load_fills() == []  # the opening's balances hold the hand trade
    assert opening_trades(rig.storage).get("stub") == {"h1|buy"}
    assert len(reads) == 2  # read again after the trade the recheck listed

    rig.clock.ms = S * 1000 + 5_000
    second = await reconcile_all(rig)
    assert second.ok, second.reason
    assert rig.storage.load_fills() == []  # never booked on top of the opening's figures
    assert rig.storage.load_balance_adjustments("stub") == []
    assert rig.portfolio.book("stub").total("BTC") == D("1.01")
