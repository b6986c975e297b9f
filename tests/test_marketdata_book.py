"""L2 order book: snapshots, deltas, best levels, crossed input, and venue sequencing rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.marketdata.book import BookBuilder, OrderBook, build_book
from tradeguard.marketdata.errors import BookSequenceError
from tradeguard.marketdata.events import BookDelta, BookSnapshot
from tradeguard.marketdata.loaders import load_book_events

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BOOKS = DATA / "orderbook"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"market data not found at {DATA}")


def D(x: str) -> Decimal:
    return Decimal(x)


def levels(*pairs: tuple[str, str]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((D(p), D(a)) for p, a in pairs)


def sample_book() -> OrderBook:
    book = OrderBook("BTC/USDT")
    book.apply_snapshot(
        levels(("99", "1"), ("100", "2"), ("98", "3")),
        levels(("102", "1"), ("101", "4"), ("103", "0")),
        ts=1_000,
        seq=7,
    )
    return book


def test_snapshot_orders_levels_best_first_and_drops_zero_amounts():
    book = sample_book()
    assert book.bids() == [(D("100"), D("2")), (D("99"), D("1")), (D("98"), D("3"))]
    assert book.asks() == [(D("101"), D("4")), (D("102"), D("1"))]
    assert book.bids(depth=2) == [(D("100"), D("2")), (D("99"), D("1"))]
    assert book.asks(depth=1) == [(D("101"), D("4"))]
    assert book.bids(depth=10) == book.bids()
    assert book.best_bid() == (D("100"), D("2"))
    assert book.best_ask() == (D("101"), D("4"))
    assert book.mid() == D("100.5")
    assert (book.ts, book.seq) == (1_000, 7)


def test_deltas_update_add_and_remove_levels():
    book = sample_book()
    book.apply_delta("bid", D("100"), D("5"), ts=1_001, seq=8)  # change
    book.apply_delta("bid", D("100.5"), D("1"), ts=1_002, seq=9)  # new best
    book.apply_delta("ask", D("101"), D("0"), ts=1_003, seq=10)  # delete best ask
    book.apply_delta("ask", D("150"), D("0"), ts=1_004)  # deleting an absent level is a no-op
    assert book.best_bid() == (D("100.5"), D("1"))
    assert book.bids(2) == [(D("100.5"), D("1")), (D("100"), D("5"))]
    assert book.best_ask() == (D("102"), D("1"))
    assert (book.ts, book.seq) == (1_004, 10)
    assert book.level_count() == (4, 1)


def test_new_snapshot_replaces_the_whole_book():
    book = sample_book()
    book.apply_snapshot(levels(("50", "1")), (), ts=2_000, seq=1)
    assert book.bids() == [(D("50"), D("1"))]
    assert book.asks() == [] and book.best_ask() is None and book.mid() is None


def test_empty_book_has_no_best_levels():
    book = OrderBook("ETH/BTC")
    assert (book.best_bid(), book.best_ask(), book.mid(), book.spread()) == (None,) * 4
    assert (book.bids(), book.asks(), book.ts, book.seq) == ([], [], 0, 0)


def test_crossed_input_is_kept_as_sent_and_reported():
    book = sample_book()
    book.apply_delta("bid", D("101.5"), D("1"), ts=1_001)
    # The venue's matching ask removal may come in the next message: nothing is dropped here.
    assert book.best_bid() == (D("101.5"), D("1"))
    assert book.best_ask() == (D("101"), D("4"))
    assert book.is_crossed()
    assert book.spread() == D("-0.5")
    book.apply_delta("ask", D("101"), D("0"), ts=1_002)
    book.apply_delta("ask", D("102"), D("0"), ts=1_002)
    assert not book.is_crossed()


def test_bad_side_and_negative_amount_are_refused():
    book = sample_book()
    with pytest.raises(ValueError, match="'buy' is not 'bid' or 'ask'"):
        book.apply_delta("buy", D("1"), D("1"), ts=1)
    with pytest.raises(ValueError, match="negative"):
        book.apply_delta("ask", D("105"), D("-1"), ts=1)
    with pytest.raises(ValueError, match="negative"):
        book.apply_snapshot(levels(("1", "-1")), (), ts=1)


def snap(seq: int) -> BookSnapshot:
    return BookSnapshot("BTC/USDT", 1_000, seq, levels(("100", "1")), levels(("101", "1")))


def diff(
    first: int, last: int, prev: int | None, price: str = "100", amount: str = "2", ts: int = 2_000
) -> BookDelta:
    return BookDelta("BTC/USDT", ts, last, levels((price, amount)), (), first, prev)


def test_binance_futures_diffs_chain_by_previous_update_id():
    builder = BookBuilder("BTC/USDT")
    builder.apply(snap(100))
    assert builder.apply(diff(90, 95, 80)) is False  # older than the snapshot: dropped
    assert builder.apply(diff(98, 105, 97, amount="2"))  # straddles the snapshot id
    assert builder.apply(diff(106, 110, 105, amount="3"))
    assert builder.book.seq == 110
    assert builder.book.best_bid() == (D("100"), D("3"))
    assert builder.skipped == 1
    with pytest.raises(BookSequenceError, match=r"expected 110, got 111.*fresh snapshot"):
        builder.apply(diff(115, 120, 111))


def test_binance_spot_diffs_must_be_contiguous():
    builder = BookBuilder("BTC/USDT")
    builder.apply(snap(100))
    builder.apply(diff(101, 103, None))
    with pytest.raises(BookSequenceError, match="expected 104, got 105"):
        builder.apply(diff(105, 106, None))


def test_first_diff_after_snapshot_must_cover_the_snapshot_id():
    builder = BookBuilder("BTC/USDT")
    builder.apply(snap(100))
    with pytest.raises(BookSequenceError, match="updates in between are missing"):
        builder.apply(diff(150, 160, 149))


def test_delta_before_any_snapshot_is_refused():
    with pytest.raises(BookSequenceError, match="before any snapshot"):
        BookBuilder("BTC/USDT").apply(diff(1, 2, None))


def test_lenient_builder_counts_gaps_and_applies_anyway():
    builder = BookBuilder("BTC/USDT", strict=False)
    builder.apply(snap(100))
    builder.apply(diff(150, 160, 149, amount="9"))
    assert builder.gaps == 1
    assert builder.book.best_bid() == (D("100"), D("9"))


def test_events_for_another_symbol_are_refused():
    with pytest.raises(ValueError, match="ETH/BTC"):
        BookBuilder("ETH/BTC").apply(snap(1))


@needs_data
def test_real_binance_update_file_does_not_chain_to_the_real_snapshot():
    events = load_book_events(
        [BOOKS / "binance_BTCUSDT_depth_snapshot.csv", BOOKS / "binance_BTCUSDT_depth_updates.csv"]
    )
    # The two recordings are ten minutes apart: strict sequencing must refuse the join.
    with pytest.raises(BookSequenceError, match="expected 2098021528333, got 2098041693435"):
        build_book(events, "BTC/USDT")
    book = build_book(events, "BTC/USDT", strict=False)
    assert book.best_bid() == (D("20472.10"), D("22.276"))
    assert book.best_ask() == (D("20472.20"), D("4.211"))
    assert book.level_count() == (120, 30)


@needs_data
def test_bybit_file_replays_to_the_hand_checked_end_state():
    events = load_book_events(BOOKS / "bybit_XRPUSDT_ob500.data.zip")
    builder = BookBuilder("XRP/USDT")
    book = builder.apply_all(events)
    assert (builder.gaps, builder.skipped) == (0, 0)
    assert (book.ts, book.seq) == (1733011205490, 20254918)
    # Last message sets bid 1.9538 to 0 and 1.9537 to 10605.
    assert book.bids(3) == [
        (D("1.9537"), D("10605")),
        (D("1.9536"), D("3515")),
        (D("1.9535"), D("5094")),
    ]
    assert book.asks(3) == [
        (D("1.9538"), D("6702")),
        (D("1.9539"), D("18558")),
        (D("1.9540"), D("19825")),
    ]
    assert book.level_count() == (500, 500)
    assert book.mid() == D("1.95375")


@needs_data
def test_tardis_snapshots_each_reset_the_book():
    events = load_book_events(BOOKS / "binance-futures_BTCUSDT_book_snapshot_25.csv")
    book = build_book(events, "BTC/USDT")
    last = events[-1]
    assert isinstance(last, BookSnapshot)
    assert book.level_count() == (25, 25)
    assert book.best_bid() == max(last.bids)
    assert book.best_ask() == min(last.asks)


def test_stale_bybit_delta_is_skipped_and_new_snapshot_resets():
    builder = BookBuilder("BTC/USDT")
    builder.apply(snap(10))
    builder.apply(BookDelta("BTC/USDT", 2, 12, levels(("100", "5")), ()))
    assert builder.apply(BookDelta("BTC/USDT", 3, 11, levels(("100", "7")), ())) is False
    assert builder.book.best_bid() == (D("100"), D("5"))
    builder.apply(snap(1))  # a service restart re-sends a snapshot with u=1
    assert builder.book.seq == 1 and builder.book.best_bid() == (D("100"), D("1"))
