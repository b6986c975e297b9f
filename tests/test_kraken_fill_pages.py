"""Kraken's TradesHistory answers 50 of the account's trades at a time, newest first, across
every pair (`ofs` pages on, `start` is exclusive, `end` inclusive, `count` says how many match).
A read of one symbol's fills from a point in time (a catch-up after a reconnect, a fill
lookup's fallback) must page through all of them: one read kept the newest 50 only. It pages
by trade txid (`end`, the oldest trade read so far), not by `ofs`: trades made while it pages
shift every offset (more than a page of them made the read an "ambiguous" error), never a
txid; those made meanwhile are read after, from the newest trade read (`start`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from kraken_support import carol_venue
from tradeguard.clock import Clock
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.model.order import Order
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.venues.ccxt_kraken import KrakenCcxtVenue

D = Decimal
PIECE = D("0.0001")


@pytest.fixture
async def venue(kx: KrakenSandbox) -> AsyncIterator[KrakenCcxtVenue]:
    kx.add_market("ETH/USD", "ETH", "USD", "0.25", "0.0001", "0.001", "0.5")
    kx.set_book("ETH/USD", bids=[("2999.75", "5")], asks=[("3000.25", "5")])
    async with carol_venue(kx) as v:
        yield v


def _buy(cid: str, symbol: str, price: str, pieces: int) -> Order:
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol=symbol, side=Side.BUY,
        amount=PIECE * pieces if symbol == "BTC/USD" else D("0.001") * pieces,
        type=OrderType.LIMIT, price=D(price), time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    return Order.from_intent(intent, cid, Clock().now_ms())


async def test_fills_since_a_time_are_all_read_past_kraken_s_page_of_50(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    await venue.submit(_buy("tgpg-btc", "BTC/USD", "50000", 121))
    await venue.submit(_buy("tgpg-eth", "ETH/USD", "3000", 30))
    since = (kx.now_ms() // 1000 - 3600) * 1000  # a whole second: `start` is exclusive
    kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since - 1)  # before it
    for i in range(120):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 20 * i)
        if i % 4 == 0:  # the other pair's trades share the account's pages
            kx.trade_through("ETH/USD", "SELL", "3000", "0.001", at_ms=since + 20 * i + 1)
    fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) == 120
    assert min(f.ts for f in fills) == since
    assert {f.client_order_id for f in fills} == {"tgpg-btc"}
    assert sum((f.amount for f in fills), D(0)) == PIECE * 120


async def test_trades_history_pages_by_offset_newest_first(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    await venue.submit(_buy("tgpg-ofs", "BTC/USD", "50000", 120))
    t0 = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(120):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=t0 + 1000 * i)
    client = venue.client
    pages = []
    for ofs in (0, 50, 100, 150):
        answer = await client.privatePostTradesHistory({"ofs": ofs, "start": t0 // 1000})
        assert answer["result"]["count"] == 119  # `start` excludes the trade at t0
        pages.append([row["time"] for row in answer["result"]["trades"].values()])
    assert [len(p) for p in pages] == [50, 50, 19, 0]
    times = [t for p in pages for t in p]
    assert times == sorted(times, reverse=True)
    assert min(times) == t0 / 1000 + 1
    answer = await client.privatePostTradesHistory({"end": t0 // 1000 + 9})
    assert answer["result"]["count"] == 10  # `end` includes the trade at it


async def test_trades_history_takes_a_trade_txid_as_start_or_end(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    await venue.submit(_buy("tgpg-txid", "BTC/USD", "50000", 10))
    t0 = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(10):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=t0 + 1000 * i)
    client = venue.client
    answer = await client.privatePostTradesHistory({})
    txids = list(answer["result"]["trades"])  # newest first
    assert len(txids) == 10
    after = await client.privatePostTradesHistory({"start": txids[6]})  # exclusive
    assert list(after["result"]["trades"]) == txids[:6]
    upto = await client.privatePostTradesHistory({"end": txids[6]})  # inclusive
    assert list(upto["result"]["trades"]) == txids[6:]
    assert upto["result"]["count"] == 4


async def test_a_history_that_answers_the_same_full_page_again_is_an_error_not_a_loop(
    venue: KrakenCcxtVenue,
) -> None:
    page = [
        {"id": f"T{i}", "order": "O1", "side": "buy", "symbol": "BTC/USD", "timestamp": 5000 + i}
        for i in range(50)
    ]
    calls: list[object] = []

    async def same_page(*args: object) -> list[dict[str, object]]:
        calls.append(args)
        return page

    venue.client.fetch_my_trades = same_page
    with pytest.raises(AmbiguousVenueError, match="no trade not read already"):
        await venue.fetch_fills("BTC/USD", 1000)
    assert len(calls) == 2


def _spy_pages(venue: KrakenCcxtVenue, after_page: Any = None) -> list[dict[str, Any]]:
    """The params of each TradesHistory read the venue makes (through the real client);
    `after_page(n)` runs once the n-th page has been answered."""
    asked: list[dict[str, Any]] = []
    real = venue.client.fetch_my_trades

    async def spy(*args: Any) -> Any:
        asked.append(dict(args[3]) if len(args) > 3 and args[3] else {})
        rows = await real(*args)
        if after_page is not None:
            after_page(len(asked))
        return rows

    venue.client.fetch_my_trades = spy
    return asked


async def test_trades_made_while_the_history_is_paged_are_all_read_once(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    await venue.submit(_buy("tgpg-busy", "BTC/USD", "50000", 300))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(120):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 20 * i)
    later = kx.now_ms()

    def arrive(page: int) -> None:
        if page <= 2:  # 60 new trades after each of the first two pages: 120 in all
            for i in range(60):
                at = later + 1000 * page + i
                kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=at)

    _spy_pages(venue, arrive)
    fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) == 240
    assert sum((f.amount for f in fills), D(0)) == PIECE * 240
    assert {f.client_order_id for f in fills} == {"tgpg-busy"}


async def test_the_history_is_paged_by_the_oldest_trade_txid_read(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    await venue.submit(_buy("tgpg-end", "BTC/USD", "50000", 120))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(120):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 20 * i)
    answers = await venue.client.privatePostTradesHistory({"start": since // 1000 - 1})
    newest = list(answers["result"]["trades"])  # newest first
    asked = _spy_pages(venue)
    fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) == 120
    assert all(not q.get("ofs") for q in asked)
    assert [q.get("end") for q in asked[:2]] == [None, newest[-1]]
    assert all(str(q["start"]) == str(since // 1000 - 1) for q in asked[:3])
    # 50, then 49 and 21 new ones (`end` is inclusive), then those made meanwhile: none
    assert len(asked) == 4
    assert (asked[3].get("start"), asked[3].get("end")) == (newest[0], None)
