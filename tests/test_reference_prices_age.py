"""A reference price keeps the time it was read: stored with it, its age shown, and flagged
stale once it is not read again for longer than `node.reference_price_max_age_s` (a closed
market's book gives no new reading, so its last mark would otherwise pass for fresh forever)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from tradeguard.execution.reference_prices import MARKS_KEY, ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.market import Quote
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal
LEG = "KXFED-26DEC-T4.00:NO"
SYMBOL = f"{LEG}/USD"
HOUR_MS = 3_600_000


class _Book:
    """An outcome's public book while its market is open; nothing once it closes."""

    def __init__(self, clock: list[int]) -> None:
        self.clock, self.open = clock, True

    def lists(self, symbol: str) -> bool:
        return self.open and symbol == SYMBOL

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        if not self.lists(symbol):
            return None
        return Quote(symbol, self.clock[0], D("0.40"), D(1), D("0.44"), D(1))


class _Kv:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    def kv_get(self, key: str) -> Any:
        return self.rows.get(key)

    def kv_set(self, key: str, value: Any) -> None:
        self.rows[key] = value


def _refs(clock: list[int], book: _Book, kv: _Kv) -> tuple[ReferencePrices, Portfolio]:
    portfolio = Portfolio("USD")
    portfolio.set_balances("kalshi", [Balance("kalshi", "USD", D(100)),
                                      Balance("kalshi", LEG, D(20))])  # fmt: skip
    refs = ReferencePrices(portfolio, {"kalshi": book}, kv, now_ms=lambda: clock[0],  # type: ignore[dict-item]
                           max_age_s=3600)  # fmt: skip
    return refs, portfolio


async def test_a_closed_markets_price_ages_and_turns_stale_past_the_limit(caplog) -> None:
    clock = [10 * HOUR_MS]
    book, kv = _Book(clock), _Kv()
    refs, portfolio = _refs(clock, book, kv)
    await refs.refresh()
    assert kv.rows[MARKS_KEY] == {LEG: ["kalshi", SYMBOL, "0.42", 10 * HOUR_MS]}  # read time kept
    assert refs.ages()[LEG] == {"market": f"kalshi {SYMBOL}", "price": "0.42",
                                "read_ms": 10 * HOUR_MS, "age_s": 0.0, "stale": False}  # fmt: skip

    book.open = False  # the market closes: its book gives no new reading
    clock[0] += HOUR_MS
    await refs.refresh()
    assert refs.ages()[LEG]["age_s"] == 3600.0 and not refs.ages()[LEG]["stale"]  # at the limit
    clock[0] += 1000
    with caplog.at_level(logging.WARNING):
        await refs.refresh()
        await refs.refresh()
    assert refs.ages()[LEG] == {
        "market": f"kalshi {SYMBOL}",
        "price": "0.42",
        "read_ms": 10 * HOUR_MS,
        "age_s": 3601.0,
        "stale": True,
    }
    warned = [r.getMessage() for r in caplog.records if "stale" in r.getMessage()]
    assert warned == [  # once, naming the limit
        f"reference price of {LEG} (kalshi {SYMBOL} at 0.42) not read again for 3601 s, over "
        "node.reference_price_max_age_s=3600: shown as stale until a reading renews it"
    ]
    assert portfolio.equity() == D(100) + 20 * D("0.42")  # still counted, flagged, not dropped

    # a restart reads the stored time back: the mark is as old as it was, not fresh again
    again, _ = _refs(clock, book, kv)
    again.load()
    assert again.ages()[LEG]["read_ms"] == 10 * HOUR_MS and again.ages()[LEG]["stale"]

    book.open = True  # a reading again renews it
    await again.refresh()
    assert again.ages()[LEG]["age_s"] == 0.0 and not again.ages()[LEG]["stale"]


async def test_a_price_stored_without_its_read_time_is_stale() -> None:
    clock = [10 * HOUR_MS]
    book, kv = _Book(clock), _Kv()
    book.open = False
    kv.rows[MARKS_KEY] = {LEG: ["kalshi", SYMBOL, "0.42"]}  # as an older version stored it
    refs, portfolio = _refs(clock, book, kv)
    refs.load()
    assert portfolio.marks[SYMBOL] == D("0.42")
    assert refs.ages()[LEG] == {"market": f"kalshi {SYMBOL}", "price": "0.42",
                                "read_ms": None, "age_s": None, "stale": True}  # fmt: skip


async def test_a_price_read_now_is_fresh_whatever_the_venue_s_clock_says() -> None:
    # the sandbox (real ccxt) stamps its ticker two hours behind the node's clock, as a venue
    # whose ticker carries the time of its last trade does: the price is still read now
    from test_ccxt_support import make_venue
    from tradeguard.clock import Clock
    from tradeguard.sandbox.testing import seeded_exchange

    ex = seeded_exchange()
    ex.add_market("BNBUSDT", "BNB", "USDT", "0.001", "0.01", "0.001", "5")
    ex.set_book("BNBUSDT", bids=[("300", "10")], asks=[("301", "10")])
    ex.clock_offset_ms = -2 * HOUR_MS
    async with ex:
        venue = make_venue(ex, stream_user_data=False)
        await venue.connect()
        try:
            portfolio = Portfolio("USDT")
            portfolio.set_balances("sbx", [Balance("sbx", "BNB", D(1))])
            refs = ReferencePrices(portfolio, {"sbx": venue}, _Kv(), now_ms=Clock().now_ms,
                                   max_age_s=3600)  # fmt: skip
            await refs.refresh()
            row = refs.ages()["BNB"]
            # was: age 7200 s and stale the moment it was read
            assert not row["stale"] and row["age_s"] < 600, row
        finally:
            await venue.close()
