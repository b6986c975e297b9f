from __future__ import annotations

from decimal import Decimal

from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.errors import VenueError
from tradeguard.model.market import Quote
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal


class _Listing:
    def __init__(self, symbol: str, mid: Decimal | None) -> None:
        self.symbol, self.mid, self.asked = symbol, mid, 0

    def lists(self, symbol: str) -> bool:
        return symbol == self.symbol

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        self.asked += 1
        if self.mid is None:
            raise VenueError("a", "timed out")
        return Quote(symbol, 1, self.mid, D(1), self.mid, D(1))


async def test_a_venue_down_for_one_pass_is_asked_again_so_its_pair_does_not_stay_stale() -> None:
    portfolio = Portfolio()
    portfolio.set_balances("a", [Balance("a", "ETH", D(100))])
    portfolio.mark("BTC/USDT", D(50_000))  # a traded stream's mark
    a = _Listing("ETH/USDT", D(2000))
    b = _Listing("ETH/BTC", D("0.06"))
    refs = ReferencePrices(portfolio, {"a": a, "b": b})  # type: ignore[dict-item]
    await refs.refresh()
    assert portfolio.price_of("ETH") == D(2000)

    a.mid = None  # one pass: venue a does not answer (b's ETH/BTC is read instead)
    await refs.refresh()
    assert b.asked == 1

    a.mid = D(3100)  # a answers again: its pair, the one valuing ETH, is read again
    await refs.refresh()
    assert a.asked == 3
    assert portfolio.price_of("ETH") == D(3100), refs.status()
    assert refs.status() == {"ETH": "a ETH/USDT"}


async def test_a_pegged_asset_no_venue_prices_is_logged_with_its_unit(caplog) -> None:
    # Logged at every sandbox start of the token-unlock rehearsal: "it counts at its peg
    # (node.pegged_assets), 0.00007142857142857142857142857143", a figure without a unit.
    portfolio = Portfolio("BTC", {"USDT": D(1)}, valuation_usd=D(14000))
    portfolio.set_balances("a", [Balance("a", "USDT", D(100_000))])
    refs = ReferencePrices(portfolio, {"a": _Listing("ETH/BTC", D("0.06"))})  # type: ignore[dict-item]
    await refs.refresh()
    assert (
        "no venue lists a priced market for USDT: it counts at its peg (node.pegged_assets): "
        "1 USDT = 0.000071428571 BTC" in caplog.text
    ), caplog.text


async def test_an_unlisted_asset_of_a_hostile_length_is_cut_in_the_log(caplog) -> None:
    # a venue may report a balance in an asset named by 5,000 characters: the warning that no
    # venue prices it echoed the whole name into the logs
    hostile = "Z" * 5000
    portfolio = Portfolio()
    portfolio.set_balances("a", [Balance("a", hostile, D(1))])
    refs = ReferencePrices(portfolio, {"a": _Listing("ETH/USDT", D(2000))})  # type: ignore[dict-item]
    await refs.refresh()
    assert "no venue lists a priced market for ZZZ" in caplog.text, caplog.text
    assert hostile[:200] not in caplog.text


async def test_a_venue_priced_here_follows_its_market_after_another_streams_it() -> None:
    portfolio = Portfolio()
    portfolio.set_balances("south", [Balance("south", "ETH", D(10))])
    south = _Listing("ETH/USDT", D(2000))
    refs = ReferencePrices(portfolio, {"south": south})  # type: ignore[dict-item]
    await refs.refresh()  # south's ETH at south's ticker
    assert portfolio.equity("south") == D(20_000)

    # A strategy on north streams ETH/USDT now: south's ETH is still south's own to price...
    portfolio.mark("ETH/USDT", D(2010), "north")
    await refs.refresh()
    assert south.asked == 2
    portfolio.mark("ETH/USDT", D(1000), "north")
    south.mid = D(1000)  # ...and when the market halves there too, the next pass follows it:
    await refs.refresh()  # south's ETH is not held at the last ticker read for good
    assert portfolio.equity("south") == D(10_000)
    assert portfolio.mark_of("south", "ETH/USDT") == (D(1000), False)
    assert portfolio.provisional() is None


async def test_a_stream_repeating_the_tickers_price_takes_the_market_over_too() -> None:
    portfolio = Portfolio()
    portfolio.set_balances("south", [Balance("south", "ETH", D(10))])
    south = _Listing("ETH/USDT", D(2000))
    refs = ReferencePrices(portfolio, {"south": south})  # type: ignore[dict-item]
    await refs.refresh()
    assert south.asked == 1

    # A stream's message at the very price the ticker gave: the stream is alive all the same
    portfolio.mark("ETH/USDT", D(2000), "south")
    await refs.refresh()
    await refs.refresh()
    assert south.asked == 1  # was 3: the stream was taken as silent while its price stood
    assert refs.status() == {}
    portfolio.mark("ETH/USDT", D(1000), "south")
    assert portfolio.equity("south") == D(10_000)
