"""Kraken's TradesHistory answers 50 of the account's trades at a time, newest first, across
every pair (`ofs` pages on, `start` is exclusive, `end` inclusive, `count` says how many match).
A read of one symbol's fills from a point in time (a catch-up after a reconnect, a fill
lookup's fallback) must page through all of them: one read kept the newest 50 only. After the
first page it pages by `ofs` under an `end` (a txid of that page's oldest time), not by `ofs`
alone: trades made while it pages shift every offset of an open history (more than a page of
them made the read an "ambiguous" error), never one under an `end`; those made meanwhile are
read after, from the newest trade read (`start`). Trades of one time are not ordered by their
txids: an `end` moved page by page to one of them got a page all of that time back again."""

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
from tradeguard.venues import ccxt_kraken
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
    with pytest.raises(AmbiguousVenueError, match="at ofs 50 holds no trade not read already"):
        await venue.fetch_fills("BTC/USD", 1000)
    assert len(calls) == 3  # the first page, up to its oldest trade (ofs 0), then ofs 50


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
    # under one `end`, the first page's oldest trade: trades made meanwhile shift no `ofs`
    assert [(q.get("end"), q.get("ofs")) for q in asked[:3]] == [
        (None, None), (newest[-1], None), (newest[-1], 50),
    ]  # fmt: skip
    assert all(str(q["start"]) == str(since // 1000 - 1) for q in asked[:3])
    # 50, then 49 and 21 new ones (`end` is inclusive), then those made meanwhile: none
    assert len(asked) == 4
    assert (asked[3].get("start"), asked[3].get("end")) == (newest[0], None)


def _txids_in_no_order(venue: KrakenCcxtVenue) -> None:
    """Kraken's txids (TCWJEG-FL4SZ-3FKGH6) say nothing of which trade came first, where the
    sandbox's count up; ccxt lists the trades of one time by txid. Each txid is renamed (its
    number n to 99999999 - n, both ways) so that trades of one time are listed newest first."""
    real = venue.client.fetch_my_trades

    def rename(txid: Any) -> Any:
        if not isinstance(txid, str) or not txid[-8:].isdigit():
            return txid
        return f"{txid[:-8]}{99_999_999 - int(txid[-8:]):08d}"

    async def renamed(*args: Any) -> Any:
        params = {k: rename(v) for k, v in dict(args[3] or {}).items()}
        rows = [{**r, "id": rename(r["id"])} for r in await real(*args[:3], params)]
        return sorted(rows, key=lambda r: (r["timestamp"], r["id"]))

    venue.client.fetch_my_trades = renamed


async def test_more_than_a_page_of_trades_at_one_time_are_all_read(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    # One order taking 60 resting orders is 60 trades of one time: which of those a page holds
    # is the oldest is not told by their txids, and a page up to the newest came back again.
    _txids_in_no_order(venue)
    await venue.submit(_buy("tgpg-tie", "BTC/USD", "50000", 70))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 5)
    for _ in range(60):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 500)
    kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 900)
    fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) == 62
    assert sum((f.amount for f in fills), D(0)) == PIECE * 62


async def test_a_history_still_growing_after_every_pass_is_reported(
    kx: KrakenSandbox, venue: KrakenCcxtVenue, caplog: pytest.LogCaptureFixture
) -> None:
    await venue.submit(_buy("tgpg-cap", "BTC/USD", "50000", 4000))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(60):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 20 * i)
    later = kx.now_ms()

    def arrive(page: int) -> None:  # more than a page of new trades after every page read
        for i in range(60):
            kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=later + 100 * page + i)

    asked = _spy_pages(venue, arrive)
    with caplog.at_level("WARNING", logger="tradeguard"):
        fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) >= 60
    assert len(asked) >= 2 * ccxt_kraken.HISTORY_PASSES
    warned = [r.getMessage() for r in caplog.records if "still growing" in r.getMessage()]
    assert len(warned) == 1 and str(ccxt_kraken.HISTORY_PASSES) in warned[0]


@pytest.mark.parametrize("shuffled", [False, True], ids=["txid-order", "txids-in-no-order"])
async def test_trades_of_one_time_across_page_boundaries_are_read_once(
    kx: KrakenSandbox, venue: KrakenCcxtVenue, shuffled: bool
) -> None:
    # 30 newer trades put the first page's boundary inside 130 trades of one time, which then
    # fill the next two pages whole and part of a third (boundaries at 50, 100 and 150).
    if shuffled:
        _txids_in_no_order(venue)
    await venue.submit(_buy("tgpg-wide-tie", "BTC/USD", "50000", 200))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(10):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + i)
    for _ in range(130):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 500)
    for i in range(30):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 1000 + 10 * i)
    fills = await venue.fetch_fills("BTC/USD", since)
    assert len({f.trade_id for f in fills}) == len(fills) == 170
    assert sum((f.amount for f in fills), D(0)) == PIECE * 170


async def test_a_full_page_whose_trade_at_the_cap_has_no_txid_is_an_error_not_a_bound(
    kx: KrakenSandbox, venue: KrakenCcxtVenue
) -> None:
    # A trade without a txid where the page ends (the row the next page is bounded by, `end`)
    # or starts (where the next pass starts) gives no bound: paging on from "" would read an
    # open history whose offsets shift, or from the start of the account's history.
    await venue.submit(_buy("tgpg-blank", "BTC/USD", "50000", 80))
    since = (kx.now_ms() // 1000 - 3600) * 1000
    for i in range(60):
        kx.trade_through("BTC/USD", "SELL", "50000", str(PIECE), at_ms=since + 20 * i)
    real = venue.client.fetch_my_trades
    asked: list[dict[str, Any]] = []

    async def blank_at_the_cap(*args: Any) -> Any:
        asked.append(dict(args[3] or {}))
        rows = list(await real(*args))
        if len(rows) == ccxt_kraken.TRADES_PAGE:  # ccxt lists them oldest first
            rows[0] = {**rows[0], "id": ""}
        return rows

    venue.client.fetch_my_trades = blank_at_the_cap
    with pytest.raises(AmbiguousVenueError, match="no txid"):
        await venue.fetch_fills("BTC/USD", since)
    assert all(q.get("end") != "" and q.get("start") != "" for q in asked), asked
