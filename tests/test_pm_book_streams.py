"""Prediction-market books over WebSocket: REST snapshot first, depth, sequence gaps, fallback."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from eth_account import Account

from pm_support import TICKER, rsa_pem
from tradeguard.clock import Clock
from tradeguard.model.market import Quote
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.kalshi.book_stream import KalshiBookFeed
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.outcome_stream import StreamGap
from tradeguard.venues.polymarket.book_stream import MarketChannelFeed
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal
K_YES, K_NO = f"{TICKER}:YES/USD", f"{TICKER}:NO/USD"
P_YES = "fed-dec:YES/PUSD"


def _deep_kalshi(ex: KalshiExchange) -> tuple[str, str]:
    ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
    ex.seed_book(
        TICKER,
        yes_bids=[("0.45", "100"), ("0.44", "50")],
        yes_asks=[("0.47", "100"), ("0.48", "30"), ("0.50", "20")],
    )
    pem, key = rsa_pem()
    return ex.add_account(key.public_key(), D(1000)), pem


class Collector:
    """Runs a quote stream in the background and keeps the latest quote per symbol."""

    def __init__(self, stream) -> None:
        self.latest: dict[str, Quote] = {}
        self.count = 0
        self._task = asyncio.create_task(self._run(stream))

    async def _run(self, stream) -> None:
        async for q in stream:
            self.latest[q.symbol] = q
            self.count += 1

    async def stop(self) -> None:
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def _asks(q: Quote | None) -> list[tuple[str, str]]:
    return [(str(p), f"{s:.2f}") for p, s in q.asks] if q else []


async def test_kalshi_stream_starts_from_rest_then_applies_deltas_with_full_depth():
    async with KalshiExchange() as ex:
        key_id, pem = _deep_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, False)
        await venue.connect()
        got = Collector(venue.stream_quotes([K_YES, K_NO]))
        try:
            await eventually(lambda: K_YES in got.latest and K_NO in got.latest)
            assert venue.book_stats.polled_quotes == 2  # the REST snapshot came first
            yes = got.latest[K_YES]
            assert _asks(yes) == [("0.4700", "100.00"), ("0.4800", "30.00"), ("0.5000", "20.00")]
            assert [(str(p), str(s)) for p, s in got.latest[K_NO].asks] == [
                ("0.5500", "100.00"),
                ("0.5600", "50.00"),
            ]
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.46", "7")])
            await eventually(lambda: _asks(got.latest[K_YES])[:1] == [("0.4600", "7.00")])
            assert venue.book_stats.ws_quotes >= 1
            assert got.latest[K_NO].bid == D("0.54") and got.latest[K_NO].bid_size == 7
        finally:
            await got.stop()
            await venue.close()


async def test_kalshi_sequence_gap_resubscribes_and_the_book_stays_right():
    async with KalshiExchange() as ex:
        key_id, pem = _deep_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock(), ex.ws_url, False)
        await venue.connect()
        got = Collector(venue.stream_quotes([K_YES]))
        try:
            await eventually(lambda: venue.book_stats.ws_quotes + venue.book_stats.polled_quotes)
            await eventually(lambda: any(c[0] == "orderbook_delta" for c in _subs(ex)))
            ex.book_feed.skip_seq = 1
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.46", "7")])
            await eventually(lambda: venue.book_stats.resyncs == 1)
            await eventually(lambda: _asks(got.latest[K_YES])[:2] == [
                ("0.4600", "7.00"), ("0.4700", "100.00")
            ])  # fmt: skip
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.49", "5")])
            await eventually(lambda: ("0.4900", "5.00") in _asks(got.latest[K_YES]))
            assert venue.book_stats.resyncs == 1 and venue.book_stats.fallbacks == 0
        finally:
            await got.stop()
            await venue.close()


def _subs(ex: KalshiExchange) -> list[tuple[str, set[str]]]:
    return [sub for conn in ex.hub.conns for sub in conn.subs.values()]


async def test_kalshi_stream_failure_falls_back_to_rest_polling(closed_port: int):
    dead_ws = f"ws://127.0.0.1:{closed_port}/trade-api/ws/v2"  # bound, never listening
    async with KalshiExchange() as ex:
        key_id, pem = _deep_kalshi(ex)
        venue = KalshiVenue(
            "kalshi", ex.rest_url, key_id, pem, Clock(), dead_ws, False, quote_poll_s=0.05
        )
        await venue.connect()
        got = Collector(venue.stream_quotes([K_YES]))
        try:
            await eventually(lambda: venue.book_stats.fallbacks >= 1)
            ex.seed_book(TICKER, yes_bids=[], yes_asks=[("0.46", "7")])
            await eventually(lambda: _asks(got.latest.get(K_YES))[:1] == [("0.4600", "7.00")])
            assert venue.book_stats.ws_quotes == 0
        finally:
            await got.stop()
            await venue.close()


async def test_polymarket_market_channel_sends_price_changes_that_keep_depth():
    async with PolymarketExchange() as ex:
        ex.add_market("fed-dec", "1001", "1002")
        ex.seed_book(
            "fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100"), ("0.49", "40")]
        )
        wallet = Account.create()
        ex.add_account(wallet.address, D(1000))
        ws = ex.url.replace("http", "ws", 1) + "/ws/user"
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock(), ws_url=ws)
        await venue.connect()
        got = Collector(venue.stream_quotes([P_YES]))
        try:
            await eventually(lambda: P_YES in got.latest)
            assert [(str(p), str(s)) for p, s in got.latest[P_YES].asks] == [
                ("0.47", "100"),
                ("0.49", "40"),
            ]
            await eventually(lambda: any(c[0] == "market" for c in _subs_pm(ex)))
            ex.seed_book("fed-dec", yes_bids=[("0.46", "5")], yes_asks=[("0.48", "9")])
            await eventually(lambda: len(got.latest[P_YES].asks) == 3)
            q = got.latest[P_YES]
            assert (q.bid, q.bid_size, q.ask, q.ask_size) == (D("0.46"), 5, D("0.47"), 100)
            assert [p for p, _ in q.asks] == [D("0.47"), D("0.48"), D("0.49")]
            assert venue.book_stats.ws_quotes >= 1
        finally:
            await got.stop()
            await venue.close()


def _subs_pm(ex: PolymarketExchange) -> list[tuple[str, set[str]]]:
    return [sub for conn in ex.hub.conns for sub in conn.subs.values()]


def test_kalshi_feed_refuses_a_delta_that_skips_a_sequence_number():
    feed = KalshiBookFeed([K_YES])
    snap = {"market_ticker": TICKER, "yes_dollars": [["0.45", "10"]], "no_dollars": []}
    feed.apply({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": snap}, 0)
    delta = {"market_ticker": TICKER, "price_dollars": "0.45", "delta_fp": "-4", "side": "yes"}
    (q,) = feed.apply({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": delta}, 0)
    assert (q.bid, q.bid_size) == (D("0.45"), D(6))
    with pytest.raises(StreamGap, match="sid 1: message 4 after 2"):
        feed.apply({"type": "orderbook_delta", "sid": 1, "seq": 4, "msg": delta}, 0)


def test_polymarket_feed_removes_a_level_whose_size_turns_zero():
    feed = MarketChannelFeed({"1001": P_YES})
    book = {"bids": [], "asks": [{"price": "0.49", "size": "4"}, {"price": "0.47", "size": "3"}]}
    feed.apply({"event_type": "book", "asset_id": "1001", **book}, 0)
    change = {"asset_id": "1001", "price": "0.47", "size": "0", "side": "SELL"}
    (q,) = feed.apply({"event_type": "price_change", "price_changes": [change]}, 0)
    assert (q.ask, q.ask_size, q.asks) == (D("0.49"), D(4), ((D("0.49"), D(4)),))
