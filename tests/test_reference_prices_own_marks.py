"""A venue's own reference marks: the any-venue mark follows the freshest ticker read, and the
own marks are kept across a restart with their read time (a stale one is not used)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.market import Quote
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal
HOUR_MS = 3_600_000


class _Venue:
    """A venue listing BTC/USD, its ticker at `mid` (None: it does not answer)."""

    def __init__(self, mid: str | None) -> None:
        self.mid = None if mid is None else D(mid)

    def lists(self, symbol: str) -> bool:
        return symbol == "BTC/USD"

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        if self.mid is None:
            return None
        return Quote(symbol, 0, self.mid - 1, D(1), self.mid + 1, D(1))


class _Kv:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    def kv_get(self, key: str) -> Any:
        return self.rows.get(key)

    def kv_set(self, key: str, value: Any) -> None:
        self.rows[key] = value


def _portfolio(*venues: str) -> Portfolio:
    portfolio = Portfolio("USDT")
    for venue in venues:
        portfolio.set_balances(venue, [Balance(venue, "USD", D(1000)), Balance(venue, "BTC", D(1))])
    portfolio.mark("BTC/USDT", D(60_000), "binance")  # Binance's stream prices BTC
    portfolio.mark("USD/USDT", D(1), "binance")
    return portfolio


def _refs(portfolio: Portfolio, venues: dict[str, _Venue], kv: _Kv, clock: list[int],
          max_age_s: float = 3600) -> ReferencePrices:  # fmt: skip
    return ReferencePrices(portfolio, venues, kv, now_ms=lambda: clock[0],  # type: ignore[arg-type]
                           max_age_s=max_age_s)  # fmt: skip


async def test_the_any_venue_mark_follows_the_latest_ticker_read() -> None:
    kraken, bitstamp = _Venue("48000"), _Venue("47000")
    portfolio = _portfolio("kraken", "bitstamp")
    refs = _refs(portfolio, {"kraken": kraken, "bitstamp": bitstamp}, _Kv(), [HOUR_MS])
    await refs.refresh()
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(48_000), False)
    assert portfolio.mark_of("bitstamp", "BTC/USD") == (D(47_000), False)
    # venues are read in name order: Kraken's reading is the later one, not Bitstamp's first
    assert portfolio.marks["BTC/USD"] == D(48_000)

    kraken.mid, bitstamp.mid = D(46_000), None  # Bitstamp stops answering
    await refs.refresh()
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(46_000), False)
    assert portfolio.marks["BTC/USD"] == D(46_000)  # the freshest, not the first ever read


async def test_a_streamed_any_venue_mark_is_not_moved_by_a_ticker() -> None:
    kraken = _Venue("48000")
    portfolio = _portfolio("kraken")
    portfolio.mark("BTC/USD", D(49_000), "coinbase")  # Coinbase streams BTC/USD
    refs = _refs(portfolio, {"kraken": kraken}, _Kv(), [HOUR_MS])
    await refs.refresh()
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(48_000), False)
    assert portfolio.marks["BTC/USD"] == D(49_000)


async def test_own_marks_are_kept_across_a_restart_until_they_are_too_old() -> None:
    clock, kv = [10 * HOUR_MS], _Kv()
    refs = _refs(_portfolio("kraken"), {"kraken": _Venue("48000")}, kv, clock)
    await refs.refresh()

    # a restart: Kraken does not answer yet, its BTC is valued at its own last mark at once
    clock[0] += HOUR_MS // 2
    down = _Venue(None)
    portfolio = _portfolio("kraken")
    again = _refs(portfolio, {"kraken": down}, kv, clock)
    again.load()
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(48_000), False)
    assert again.status() == {"kraken:BTC": "kraken BTC/USD"}
    await again.refresh()  # still no answer: the restored mark stands while within the age
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(48_000), False)

    clock[0] += HOUR_MS  # past node.reference_price_max_age_s: no longer used
    await again.refresh()
    assert portfolio.mark_of("kraken", "BTC/USD") == (None, False)
    assert "BTC/USD" not in portfolio.marks  # nor as any venue's latest
    down.mid = D(45_000)  # answering again
    await again.refresh()
    assert portfolio.mark_of("kraken", "BTC/USD") == (D(45_000), False)


async def test_a_stale_own_mark_is_not_restored() -> None:
    clock, kv = [10 * HOUR_MS], _Kv()
    refs = _refs(_portfolio("kraken"), {"kraken": _Venue("48000")}, kv, clock)
    await refs.refresh()
    clock[0] += 2 * HOUR_MS
    portfolio = _portfolio("kraken")
    again = _refs(portfolio, {"kraken": _Venue(None)}, kv, clock)
    again.load()
    assert "kraken" not in portfolio.venue_marks
    assert again.status() == {}


async def test_a_restored_own_mark_values_the_venues_equity_as_before_the_restart() -> None:
    # The restored mark is there so that a restart moves no equity (a jump and a fall back at
    # the first reading would be a false drawdown). Before, it was Kraken's own mark only, of
    # a market no mark of any venue had: equity, which reads a venue's own marks along the
    # latest's markets, valued Kraken's BTC at Binance's 60,000 until Kraken answered.
    clock, kv = [10 * HOUR_MS], _Kv()
    before = _portfolio("kraken")
    refs = _refs(before, {"kraken": _Venue("48000")}, kv, clock)
    await refs.refresh()
    assert before.equity("kraken") == D(49_000)

    clock[0] += HOUR_MS // 2
    portfolio = _portfolio("kraken")
    again = _refs(portfolio, {"kraken": _Venue(None)}, kv, clock)
    again.load()
    assert portfolio.equity("kraken") == D(49_000)
    assert portfolio.price_on("kraken", "BTC") == D(48_000)
    # any newer reading replaces it as the latest: a stream's message
    portfolio.mark("BTC/USD", D(47_000), "coinbase", clock[0])
    assert portfolio.marks["BTC/USD"] == D(47_000)
    assert portfolio.equity("kraken") == D(49_000)  # Kraken's own still values Kraken's BTC
