"""A listed trade the ledger refuses (a figure no venue could send: `implausible`) is not a
fill the balance read lacks. Counted as one, every read off the ledger listed again, found
it "booked" again, and read again: three reads and listings, then the balances deferred at
every reconciliation while the trade stayed in the listing's window (the ledger never took
the venue's figures: the difference the refusal leaves is for the balances to book)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, make_rig
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill

D = Decimal
S = 1_796_600_000  # a whole second, epoch


async def test_a_refused_listed_trade_leaves_the_balances_applied(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    venue = rig.venue
    rig.clock.ms = S * 1000
    opening = await reconcile_all(rig)  # the ledger opens
    assert opening.ok, opening.reason
    rig.clock.ms = (S + 60) * 1000
    hostile = Fill("stub", SYMBOL, "", "", "h1", Side.BUY, D("NaN"), D("0.01"), D(0), "USDT",
                   LiquiditySide.TAKER, rig.clock.ms - 1000)  # fmt: skip
    venue.fills.append(hostile)
    venue.balances["BTC"] += D("0.01")
    venue.balances["USDT"] -= 500
    reads: list[int] = []
    listings: list[int] = []
    read, listing = venue.fetch_balances, venue.fetch_fills

    async def fetch_balances() -> list[Balance]:
        reads.append(rig.clock.ms)
        return await read()

    async def fetch_fills(symbol: str, since_ts: int = 0) -> list[Fill]:
        listings.append(since_ts)
        return await listing(symbol, since_ts)

    venue.fetch_balances = fetch_balances  # type: ignore[method-assign]
    venue.fetch_fills = fetch_fills  # type: ignore[method-assign]
    periodic = await reconcile_all(rig, "periodic")
    assert periodic.ok and not periodic.balances_deferred, periodic.to_json()
    assert rig.storage.load_fills() == []  # refused, never booked
    assert periodic.fills_recovered == 0
    assert rig.portfolio.book("stub").total("BTC") == D("1.01")
    assert rig.portfolio.book("stub").total("USDT") == D(9500)
    assert len(reads) == 1, reads  # read once: nothing was booked after it
    # listed by the catch-up, and once more after the read off the ledger (each from `since`)
    assert listings.count(listings[0]) == 2, listings
