"""Books from a venue gone wrong (a level of the wrong type, a price or size that is no number,
a price of -0.5 or 1.5, a size of -3) never reach a strategy as a price: such levels are left
out of the quote, and a malformed book or `market` channel event is skipped with a warning,
never an exception out of the quote stream. A negative ask used to reach the pair scanner
(which took asks below 1) as the cheapest contract on offer."""

from __future__ import annotations

import logging
from decimal import Decimal

from tradeguard.model.outcome import Outcome
from tradeguard.venues.kalshi.book_stream import KalshiBook
from tradeguard.venues.outcome_quotes import depth_quote
from tradeguard.venues.polymarket.book_stream import MarketChannelFeed, TokenBook

D = Decimal
SANE_BID, SANE_ASK = {"price": "0.45", "size": "10"}, {"price": "0.47", "size": "5"}
HOSTILE_LEVELS = [
    {"price": "-0.5", "size": "100"}, {"price": "1.5", "size": "100"}, {"price": "0", "size": "9"},
    {"price": "1", "size": "9"}, {"price": "0.30", "size": "-3"}, {"price": "0.31", "size": "0"},
    {"price": "abc", "size": "1"}, {"price": "0.2", "size": "NaN"},
    {"price": "Infinity", "size": "1"},
    {"price": "0.2"}, {"size": "1"}, ["0.2", "1"], "0.2", None, {"price": True, "size": "1"},
    {"price": "1e999999", "size": "1"},
]  # fmt: skip


def test_a_quote_keeps_only_levels_an_outcome_can_have() -> None:
    levels = [(D("-0.5"), D(100)), (D("0.4"), D(1)), (D("1.5"), D(1)), (D("0.3"), D("NaN")),
              (D("0.2"), D("-1")), (D("Infinity"), D(1)), (D(0), D(1)), (D(1), D(1))]  # fmt: skip
    q = depth_quote("m:YES/PUSD", levels, levels, 1)
    assert q.bids == q.asks == ((D("0.4"), D(1)),)
    assert (q.bid, q.ask) == (D("0.4"), D("0.4"))
    empty = depth_quote("m:YES/PUSD", [(D("-1"), D(5))], [(D("-0.5"), D(5))], 1)
    assert (empty.bid, empty.bid_size, empty.ask, empty.ask_size) == (0, 0, 1, 0)


def test_a_polymarket_book_with_hostile_levels_quotes_the_sane_ones() -> None:
    book = TokenBook()
    book.reset({"bids": [*HOSTILE_LEVELS, SANE_BID], "asks": [*HOSTILE_LEVELS, SANE_ASK]})
    q = book.quote("m:YES/PUSD", 1)
    assert (q.bids, q.asks) == (((D("0.45"), D(10)),), ((D("0.47"), D(5)),))
    for body in (None, [], "book", {"bids": "x", "asks": 7}, {"bids": None}):
        book.reset(body)
        q = book.quote("m:YES/PUSD", 1)
        assert (q.bids, q.asks, q.ask) == ((), (), 1)


def test_hostile_market_channel_events_are_skipped_and_the_next_good_one_applies(caplog):
    feed = MarketChannelFeed({"111": "m:YES/PUSD"})
    hostile = [
        None, [], "book", {"event_type": "book"}, {"event_type": "book", "asset_id": {"a": 1}},
        {"event_type": "price_change", "price_changes": [{"asset_id": "111"}]},
        {"event_type": "price_change", "price_changes": [{"asset_id": "111", "price": "abc",
                                                          "size": "1", "side": "SELL"}]},
        {"event_type": "price_change", "price_changes": "x"},
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        for event in hostile:
            for q in feed.apply(event, 1):  # none raises; what it quotes is sane
                assert all(0 < p < 1 for p, _ in (*q.bids, *q.asks)), q
    assert any("an event skipped" in r.getMessage() for r in caplog.records)
    change = {"asset_id": "111", "price": "-0.5", "size": "100", "side": "SELL"}
    [q] = feed.apply({"event_type": "price_change", "price_changes": [change]}, 2)
    assert q.asks == ()  # a negative ask is no ask
    good = {"event_type": "book", "asset_id": "111", "bids": [SANE_BID], "asks": [SANE_ASK]}
    [q] = feed.apply(good, 3)
    assert (q.bid, q.ask, q.ask_size) == (D("0.45"), D("0.47"), D(5))


def test_a_kalshi_book_with_hostile_rows_quotes_the_sane_ones() -> None:
    book = KalshiBook()
    rows = [["-0.5", "100"], ["1.5", "9"], ["abc", "1"], ["0.2"], "0.2", None, ["0.3", "NaN"],
            [True, "1"], ["0.45", "10"]]  # fmt: skip
    book.reset({"yes_dollars": rows, "no_dollars": [["0.53", "5"], ["2", "5"]]})
    yes = book.quote("K:YES/USD", Outcome.YES, 1)
    assert yes.bids == ((D("0.45"), D(10)),) and yes.asks == ((D("0.47"), D(5)),)
    for body in (None, [], {"yes_dollars": "x"}, {"no_dollars": 5}):
        book.reset(body)
        assert book.quote("K:YES/USD", Outcome.YES, 1).asks == ()


# Numbers Decimal reads but cannot compute with: past its largest exponent any sum, difference
# or product raises decimal.Overflow (an ArithmeticError, not a ValueError). A Kalshi NO bid at
# one of them raised out of the YES quote (its ask is 1 - p), which neither the REST poll nor
# the stream fallback catches, ending the whole book stream; a Polymarket size of one reached
# the pair scanner, whose book multiplies it.
HUGE = "1e999999999"


def test_a_kalshi_bid_past_decimal_range_is_left_out_not_raised() -> None:
    book = KalshiBook()
    no_rows = [[HUGE, "5"], [f"-{HUGE}", "5"], ["0.53", HUGE], ["0.53", "5"]]
    book.reset({"yes_dollars": [["0.45", "10"], [HUGE, "1"]], "no_dollars": no_rows})
    yes = book.quote("K:YES/USD", Outcome.YES, 1)
    assert (yes.bids, yes.asks) == (((D("0.45"), D(10)),), ((D("0.47"), D(5)),))
    no = book.quote("K:NO/USD", Outcome.NO, 1)
    assert (no.bids, no.asks) == (((D("0.53"), D(5)),), ((D("0.55"), D(10)),))


def test_a_polymarket_size_past_decimal_range_never_reaches_the_scanner() -> None:
    from tradeguard.strategies.cross_venue.fees import FeeModel
    from tradeguard.strategies.cross_venue.scanner import _Book

    book = TokenBook()
    book.reset({"bids": [{"price": "0.45", "size": HUGE}, SANE_BID],
                "asks": [{"price": "0.46", "size": HUGE}, SANE_ASK]})  # fmt: skip
    q = book.quote("m:YES/PUSD", 1)
    assert (q.bids, q.asks) == (((D("0.45"), D(10)),), ((D("0.47"), D(5)),))
    assert _Book(q.asks, FeeModel.default("polymarket")).prices == [470_000]


def test_a_kalshi_delta_past_decimal_range_falls_back_to_rest_polling(caplog) -> None:
    import asyncio

    import pytest

    from tradeguard.venues.kalshi.book_stream import KalshiBookFeed
    from tradeguard.venues.outcome_stream import stream_with_fallback

    class Polled(Exception):
        """The REST poll after the stream's failure was reached."""

    feed = KalshiBookFeed(["K:YES/USD"])
    snap = {"market_ticker": "K", "yes_dollars": [["0.45", "10"]], "no_dollars": [["0.53", "5"]]}
    feed.apply({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": snap}, 1)
    delta = {"market_ticker": "K", "side": "yes", "price_dollars": "0.45", "delta_fp": HUGE}
    polled: list[str] = []

    async def fetch(symbol: str):
        polled.append(symbol)
        if len(polled) == 2:  # the REST snapshot came first; this one stands in for the stream
            raise Polled
        return feed.books["K"].quote(symbol, Outcome.YES, 1)

    async def ws():
        for q in feed.apply({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": delta}, 2):
            yield q

    async def run() -> None:
        async for _ in stream_with_fallback("kalshi", ["K:YES/USD"], fetch, ws, 0.0, 0.0):
            pass

    with caplog.at_level(logging.WARNING), pytest.raises(Polled):
        asyncio.run(run())
    assert any("book stream down (Overflow" in r.getMessage() for r in caplog.records)
