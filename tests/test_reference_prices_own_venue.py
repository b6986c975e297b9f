"""Holdings on an exchange no strategy trades are valued at that exchange's own market, read
by the reference-price pass, not for good at another venue's stream of the same coin."""

from __future__ import annotations

from decimal import Decimal

from kraken_support import carol_venue
from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.kraken.server import KrakenSandbox

D = Decimal


async def test_a_second_exchanges_holdings_are_priced_at_its_own_market(
    kx: KrakenSandbox,
) -> None:
    # Binance streams BTC/USDT for a bot; Kraken holds BTC and USD and trades nothing. The
    # pass saw BTC priced (Binance's mark) and read nothing on Kraken: Kraken's BTC stayed at
    # Binance's price for the whole run and `status` said PROVISIONAL for good.
    kx.set_book("BTC/USD", bids=[("47999", "1")], asks=[("48001", "1")])
    async with carol_venue(kx) as kraken:
        portfolio = Portfolio("USDT")
        portfolio.set_balances("kraken", await kraken.fetch_balances())
        portfolio.mark("BTC/USDT", D(60_000), "binance")  # Binance's stream
        refs = ReferencePrices(portfolio, {"kraken": kraken})  # type: ignore[dict-item]
        assert portfolio.provisional() is not None

        await refs.refresh()

        assert portfolio.provisional() is None
        assert portfolio.mark_of("kraken", "BTC/USD") == (D(48_000), False)
        assert portfolio.equity("kraken") == D(100_000) + D(48_000)  # 1 BTC at Kraken's 48,000
        assert portfolio.mark_of("binance", "BTC/USDT") == (D(60_000), False)
        assert refs.status() == {"kraken:BTC": "kraken BTC/USD"}

        kx.set_book("BTC/USD", bids=[("45999", "1")], asks=[("46001", "1")])
        await refs.refresh()  # later passes follow Kraken's market
        assert portfolio.equity("kraken") == D(100_000) + D(46_000)


async def test_a_stream_of_the_venue_itself_takes_its_holding_over(kx: KrakenSandbox) -> None:
    async with carol_venue(kx) as kraken:
        portfolio = Portfolio("USDT")
        portfolio.set_balances("kraken", await kraken.fetch_balances())
        portfolio.mark("BTC/USDT", D(60_000), "binance")
        refs = ReferencePrices(portfolio, {"kraken": kraken})  # type: ignore[dict-item]
        await refs.refresh()
        portfolio.mark("BTC/USD", D(51_000), "kraken")  # a strategy streams Kraken's BTC/USD now
        await refs.refresh()
        assert portfolio.mark_of("kraken", "BTC/USD") == (D(51_000), False)
        assert refs.status() == {}
