"""A pegged asset whose listed market has no bids is not counted at its peg.

FDUSD held in a BTC valuation, and the sandbox (real ccxt) lists FDUSD/USDT with asks at 0.50
and no bid at all: the market says the coin cannot be sold, so counting it at 1 USD a unit
(`node.pegged_assets`) would hide the loss. It counts nothing and is listed as unpriced until
a bid is back.
"""

from __future__ import annotations

from decimal import Decimal

from test_ccxt_support import make_venue
from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.money import STABLECOINS
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.testing import seeded_exchange


async def test_a_pegged_asset_with_a_listed_market_and_no_bid_counts_nothing() -> None:
    ex = seeded_exchange()
    ex.add_market("FDUSDUSDT", "FDUSD", "USDT", "0.0001", "0.01", "0.01", "5")
    ex.set_book("FDUSDUSDT", bids=[], asks=[("0.50", "1000")])
    async with ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        try:
            pegs = {a: Decimal(1) for a in STABLECOINS}
            portfolio = Portfolio("BTC", pegs, Decimal(20_000))
            portfolio.set_balances("sbx", [Balance("sbx", "FDUSD", Decimal(10_000))])
            portfolio.mark("BTC/USDT", Decimal(25_000))
            refs = ReferencePrices(portfolio, {"sbx": venue})
            await refs.refresh()
            assert portfolio.equity() == 0, "a coin no one bids for counted at its peg"
            assert portfolio.unpriced_assets() == ["FDUSD"]
            ex.set_book("FDUSDUSDT", bids=[("0.49", "1000")], asks=[("0.50", "1000")])
            await refs.refresh()  # a bid again: the market's price, not the peg
            assert portfolio.equity() == Decimal("0.198")
        finally:
            await venue.close()
