"""The latest mark of a market is the newest by venue time: a ticker read for one venue's
holding replaces a stream's mark it is newer than (a stalled stream no longer prices the coin
for every venue), an own-venue mark dropped takes its ticker's latest mark with it, and every
own-venue mark shows its age beside the others (`ages`, read by `status` and the API)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.market import Quote
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal
HOUR_MS = 3_600_000
T0 = 100 * HOUR_MS


class _Venue:
    """A venue listing BTC/USD whose ticker answers at `price` (None: it does not answer)."""

    def __init__(self, clock: list[int], price: Decimal | None) -> None:
        self.clock, self.price = clock, price

    def lists(self, symbol: str) -> bool:
        return symbol == "BTC/USD"

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        if self.price is None:
            return None
        return Quote(symbol, self.clock[0], self.price - 1, D(1), self.price + 1, D(1))


def _kraken_holding(valuation: str) -> Portfolio:
    portfolio = Portfolio(valuation)
    portfolio.set_balances("kraken", [Balance("kraken", "BTC", D(1))])
    return portfolio


async def test_a_newer_ticker_beats_a_stalled_streams_mark() -> None:
    clock = [T0 + HOUR_MS]
    portfolio = _kraken_holding("USDT")
    portfolio.mark("BTC/USDT", D(60_000), "binance")
    # Binance's stream of BTC/USD stalled an hour ago at 40,000
    portfolio.mark("BTC/USD", D(40_000), "binance", T0)
    kraken = _Venue(clock, D(50_000))
    venues: dict[str, Any] = {"kraken": kraken}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0])
    portfolio.venue_marks["kraken"] = {}  # Kraken has no own mark of BTC yet

    await refs.refresh()

    assert portfolio.mark_of("kraken", "BTC/USD") == (D(50_000), False)
    # the newest price of BTC/USD by venue time is Kraken's ticker, an hour after the stall
    assert portfolio.marks["BTC/USD"] == D(50_000)
    portfolio.untied.add("paper")  # a paper venue trading on any venue's data
    assert portfolio.mark_of("paper", "BTC/USD") == (D(50_000), False)
    assert portfolio.mark_of("binance", "BTC/USD") == (D(40_000), False)  # its own stays
    # the stream comes back with a newer message: it is the latest again
    portfolio.mark("BTC/USD", D(51_000), "binance", clock[0] + 1)
    assert portfolio.marks["BTC/USD"] == D(51_000)


async def test_an_older_stream_message_does_not_replace_a_newer_ticker() -> None:
    portfolio = Portfolio("USD")
    portfolio.mark_own("kraken", "BTC/USD", D(50_000), ts=T0 + HOUR_MS)
    portfolio.mark("BTC/USD", D(40_000), "binance", T0)  # delayed message of the stall
    assert portfolio.marks["BTC/USD"] == D(50_000)
    assert portfolio.mark_of("binance", "BTC/USD") == (D(40_000), False)


async def test_a_stream_without_a_time_keeps_its_mark_against_a_ticker() -> None:
    portfolio = Portfolio("USD")
    portfolio.mark("BTC/USD", D(40_000), "binance")
    portfolio.mark_own("kraken", "BTC/USD", D(50_000), ts=T0)
    assert portfolio.marks["BTC/USD"] == D(40_000)


async def test_a_dropped_own_mark_no_longer_values_the_holding() -> None:
    # Kraken's BTC read at Kraken's BTC/USD (no other venue lists that market, so its ticker
    # is the latest BTC/USD too); Kraken stops answering and the mark is dropped once older
    # than max_age_s. Before, the dropped price stayed the latest BTC/USD: Kraken's equity
    # (the loss and drawdown halts' figure, valued in USD) kept reading it, flagged borrowed,
    # while `ages` no longer listed it as stale.
    clock = [T0]
    portfolio = _kraken_holding("USD")
    portfolio.set_balances("binance", [Balance("binance", "USDT", D(10))])
    portfolio.mark("BTC/USDT", D(60_000), "binance", T0)
    kraken = _Venue(clock, D(48_000))
    venues: dict[str, Any] = {"kraken": kraken}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0], max_age_s=3600)
    await refs.refresh()
    assert portfolio.equity("kraken") == D(48_000)
    assert set(refs.ages()) == {"kraken:BTC"}

    kraken.price = None  # no answer for two hours
    clock[0] += 2 * HOUR_MS
    await refs.refresh()

    assert "BTC/USD" not in portfolio.venue_marks.get("kraken", {})
    assert "BTC/USD" not in portfolio.marks
    assert portfolio.price_of("BTC", "USD") == D(60_000)  # the stream's, not the dropped one
    assert portfolio.equity("kraken") == D(60_000)
    assert portfolio.mark_of("kraken", "BTC/USDT") == (D(60_000), True)  # said borrowed


async def test_own_marks_show_their_age_and_stale_flag() -> None:
    clock = [T0]
    portfolio = _kraken_holding("USDT")
    portfolio.mark("BTC/USDT", D(60_000), "binance", T0)
    kraken = _Venue(clock, D(48_000))
    venues: dict[str, Any] = {"kraken": kraken}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0], max_age_s=3600)
    await refs.refresh()
    clock[0] += 600_000
    assert refs.ages() == {
        "kraken:BTC": {"market": "kraken BTC/USD", "price": "48000", "read_ms": T0,
                       "age_s": 600.0, "stale": False},
    }  # fmt: skip
    kraken.price = None
    clock[0] += HOUR_MS - 500_000  # 3,700 s old: over the limit, not yet dropped (next pass)
    assert refs.ages()["kraken:BTC"]["stale"] is True


async def test_status_and_the_api_show_a_stale_own_mark() -> None:
    # `tradeguard status` prints the valuation the node stored; the API's equity route sends
    # `reference_ages` and `stale_prices` from it: both read `ages`, own marks now included
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from tradeguard.cli.views import _print_valuation
    from tradeguard.node.valuation_view import reference_ages

    clock = [T0]
    portfolio = _kraken_holding("USDT")
    portfolio.mark("BTC/USDT", D(60_000), "binance", T0)
    venues: dict[str, Any] = {"kraken": _Venue(clock, D(48_000))}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0], max_age_s=3600)
    await refs.refresh()
    clock[0] += 2 * HOUR_MS
    ages = reference_ages(SimpleNamespace(_reference=refs))  # type: ignore[arg-type]
    assert ages["kraken:BTC"]["stale"] is True and ages["kraken:BTC"]["age_s"] == 7200.0
    out = io.StringIO()
    _print_valuation(Console(file=out, width=200), {"reference_prices": ages})
    text = " ".join(out.getvalue().split())
    assert "Stale price: kraken:BTC at 48000 (kraken BTC/USD), read 2.0 h before" in text


class _Listing(_Venue):
    """A venue listing `market` whose ticker answers at `price`, stamped `skew_ms` ahead of the
    clock."""

    def __init__(
        self, clock: list[int], price: Decimal | None, skew_ms: int = 0, market: str = "BNB/USD"
    ) -> None:
        super().__init__(clock, price)
        self.skew_ms, self.market = skew_ms, market

    def lists(self, symbol: str) -> bool:
        return symbol == self.market

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        self.clock[0] += 1  # a reading takes its time: each is a moment after the last
        if self.price is None:
            return None
        ts = self.clock[0] + self.skew_ms
        return Quote(symbol, ts, self.price - 1, D(1), self.price + 1, D(1))


async def test_a_dropped_own_mark_leaves_another_venues_own_price_in_its_equity() -> None:
    # Binance and Kraken both hold BNB, each read at its own BNB/USD. Kraken sells its BNB:
    # its own price goes, and with it the latest BNB/USD its ticker had set. Binance's own
    # price, read a minute ago, still values Binance's BNB: before, the latest was deleted and
    # Binance's equity (the halts' figure) read its BNB as nothing while its ticker did not
    # answer (or, answering, while that reading was on its way).
    clock = [T0]
    portfolio = Portfolio("USD")
    portfolio.set_balances("binance", [Balance("binance", "BNB", D(10))])
    portfolio.set_balances("kraken", [Balance("kraken", "BNB", D(10))])
    binance, kraken = _Listing(clock, D(600)), _Listing(clock, D(610))
    venues: dict[str, Any] = {"binance": binance, "kraken": kraken}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0], max_age_s=3600)
    for _ in range(2):
        await refs.refresh()
        clock[0] += 60_000
    assert portfolio.equity("binance") == D(6000)
    assert portfolio.equity("kraken") == D(6100)

    portfolio.set_balances("kraken", [Balance("kraken", "BNB", D(0))])
    binance.price = None  # one pass without an answer: its price read a minute ago stands
    await refs.refresh()

    assert portfolio.mark_of("binance", "BNB/USD") == (D(600), False)
    assert portfolio.equity("binance") == D(6000)
    assert portfolio.price_of("BNB", "USD") is not None


async def test_a_dropped_ticker_mark_falls_back_to_the_stream_it_replaced() -> None:
    portfolio = Portfolio("USD")
    portfolio.set_balances("binance", [Balance("binance", "BTC", D(1))])
    portfolio.mark("BTC/USD", D(40_000), "binance", T0)  # Binance's stream, quiet since
    read = D(50_000)
    portfolio.mark_own("kraken", "BTC/USD", read, ts=T0 + HOUR_MS)
    assert portfolio.marks["BTC/USD"] is read
    portfolio.unmark("kraken", "BTC/USD", read)
    assert portfolio.marks["BTC/USD"] == D(40_000)  # Binance's own, not the dropped one
    assert portfolio.equity("binance") == D(40_000)
    # anything newer replaces it: the stream's next message, or a ticker read
    portfolio.mark_own("kraken", "BTC/USD", D(50_500), ts=T0 + 2 * HOUR_MS)
    assert portfolio.marks["BTC/USD"] == D(50_500)


async def test_a_ticker_stamped_ahead_of_the_node_clock_does_not_hold_off_a_live_stream() -> None:
    # Kraken's clock runs an hour ahead: its ticker's stamp says T0 + 1 h at T0. Binance's
    # stream, a second later by the node's clock (and its own), is the newer price. Before,
    # the stamp ahead made the ticker's reading "newer" than every message of the next hour,
    # renewed at each pass: a venue whose clock is ahead kept the latest for good.
    clock = [T0]
    portfolio = _kraken_holding("USDT")
    portfolio.mark("BTC/USDT", D(60_000), "binance", T0)
    portfolio.mark("BTC/USD", D(59_990), "binance", T0 - 1_000)  # Binance streams BTC/USD
    kraken = _Listing(clock, D(59_000), skew_ms=HOUR_MS, market="BTC/USD")
    refs = ReferencePrices(portfolio, {"kraken": kraken}, now_ms=lambda: clock[0])
    await refs.refresh()
    assert portfolio.marks["BTC/USD"] == D(59_000)  # read after the stream's last message

    clock[0] += 1_000
    portfolio.mark("BTC/USD", D(60_010), "binance", clock[0])
    assert portfolio.marks["BTC/USD"] == D(60_010)
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(59_000), False)  # its own stays


async def test_a_newer_own_reading_is_no_stream_to_the_any_venue_pass() -> None:
    # Binance's BNB is priced by the any-venue pass (Binance BNB/USD), Kraken's by its own
    # reading a moment later: that one is the latest now. It is a ticker's reading, not a
    # stream: before, the next pass took it for one, dropped Binance's reading with its own
    # mark and, Binance not answering then, valued Binance's BNB at Kraken's price, borrowed.
    clock = [T0]
    portfolio = Portfolio("USD")
    portfolio.set_balances("binance", [Balance("binance", "BNB", D(10))])
    portfolio.set_balances("kraken", [Balance("kraken", "BNB", D(10))])
    binance, kraken = _Listing(clock, D(600)), _Listing(clock, D(610))
    venues: dict[str, Any] = {"binance": binance, "kraken": kraken}
    refs = ReferencePrices(portfolio, venues, now_ms=lambda: clock[0], max_age_s=3600)
    await refs.refresh()
    assert portfolio.marks["BNB/USD"] == D(610)  # Kraken's, read last
    assert refs.status() == {"BNB": "binance BNB/USD", "kraken:BNB": "kraken BNB/USD"}

    clock[0] += 60_000
    binance.price = None
    await refs.refresh()
    assert portfolio.mark_of("binance", "BNB/USD") == (D(600), False)
    assert portfolio.equity("binance") == D(6000)
    assert "BNB" in refs.status()  # still read by the any-venue pass (Kraken's market now)
