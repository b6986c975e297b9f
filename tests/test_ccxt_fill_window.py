"""Binance answers the account's trades over at most 24 hours of time when both ends are sent:
a startTime and endTime further apart are refused (-1127), and fromId with a time is no
supported combination (-1128). One end alone is no window (Binance's general rule for
histories): `startTime` alone reads the oldest trades from it on up to `limit`, `endTime` alone
the most recent up to it. A read of fills from days back (a catch-up of an order that rested
for days) must find the fills made since, in one read from that time, not day by day."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import pytest

from test_ccxt_support import SYMBOL, make_venue
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.venues.ccxt_connection import FILL_PAGE_FROM_ID

DAY = 86_400_000
S = "BTC/USDT"


def _buy(ex: SandboxExchange, at_ms: int) -> None:
    account = ex.auth.keys[ALICE_KEY].account_id
    ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", at_ms, qty=Decimal("0.001"))


@pytest.fixture
def page_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trade history read 100 rows a page (Binance's `limit` on myTrades, up to 1000), through
    the same ccxt calls: a tenth of the fills makes more than a page."""
    monkeypatch.setitem(FILL_PAGE_FROM_ID, "binance", 100)


async def test_one_end_alone_reads_every_trade_on_that_side_of_it(
    ex: SandboxExchange, client: Any
) -> None:
    now = ex.now_ms()
    for at in (now - 5 * DAY, now - 3 * DAY, now - 2 * DAY, now):
        _buy(ex, at)
    rows = await client.fetch_my_trades(S, now - 5 * DAY - 1)
    assert [r["timestamp"] for r in rows] == [now - 5 * DAY, now - 3 * DAY, now - 2 * DAY, now]
    rows = await client.fetch_my_trades(S, now - 4 * DAY, 2)  # the oldest from it on
    assert [r["timestamp"] for r in rows] == [now - 3 * DAY, now - 2 * DAY]
    rows = await client.fetch_my_trades(S, None, None, {"endTime": now - DAY})
    assert [r["timestamp"] for r in rows] == [now - 5 * DAY, now - 3 * DAY, now - 2 * DAY]
    rows = await client.fetch_my_trades(S, None, 2, {"endTime": now - DAY})  # the most recent
    assert [r["timestamp"] for r in rows] == [now - 3 * DAY, now - 2 * DAY]


async def test_all_orders_with_one_end_alone_reads_every_order_on_that_side_of_it(
    ex: SandboxExchange, client: Any
) -> None:
    now = ex.now_ms()
    for at in (now - 5 * DAY, now - 3 * DAY, now - 2 * DAY, now):
        _buy(ex, at)
    rows = await client.fetch_orders(S, now - 5 * DAY - 1)
    assert [r["timestamp"] for r in rows] == [now - 5 * DAY, now - 3 * DAY, now - 2 * DAY, now]
    rows = await client.fetch_orders(S, now - 4 * DAY, 2)
    assert [r["timestamp"] for r in rows] == [now - 3 * DAY, now - 2 * DAY]
    rows = await client.fetch_orders(S, None, 2, {"endTime": now - DAY})
    assert [r["timestamp"] for r in rows] == [now - 3 * DAY, now - 2 * DAY]
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        await client.fetch_orders(S, now - DAY - 1, None, {"endTime": now})


async def test_my_trades_refuses_a_window_over_a_day_and_fromid_with_a_time(
    client: Any,
) -> None:
    now = client.milliseconds()
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        await client.fetch_my_trades(S, now - DAY - 1, None, {"endTime": now})
    with pytest.raises(ccxt.BadRequest, match="-1128"):
        await client.fetch_my_trades(S, now - 1000, None, {"fromId": "0"})
    with pytest.raises(ccxt.BadRequest, match="-1128"):
        await client.fetch_my_trades(S, None, None, {"orderId": "1", "endTime": now})
    assert await client.fetch_my_trades(S, now - DAY, None, {"endTime": now}) == []


async def test_fills_of_an_order_that_rested_for_days_are_found(ex: SandboxExchange) -> None:
    now = ex.now_ms()
    created = now - 5 * DAY
    _buy(ex, now - 2 * DAY - 5)
    _buy(ex, now)
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_fills(SYMBOL, created - 60_000)
    finally:
        await venue.close()
    assert sorted(f.ts for f in fills) == [now - 2 * DAY - 5, now]
    assert sum((f.amount for f in fills), Decimal(0)) == Decimal("0.002")


async def test_fills_past_empty_days_and_a_full_latest_page_are_all_read(
    ex: SandboxExchange, page_of_100: None
) -> None:
    now = ex.now_ms()
    _buy(ex, now - 2 * DAY - 5)
    for _ in range(101):
        _buy(ex, now)
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_fills(SYMBOL, now - 5 * DAY)
    finally:
        await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 102
    assert min(f.ts for f in fills) == now - 2 * DAY - 5


async def test_fills_from_days_back_are_read_from_that_time_not_day_by_day(
    tmp_path: Path, page_of_100: None
) -> None:
    log = tmp_path / "requests.jsonl"
    async with seeded_exchange(SandboxConfig(request_log_path=log)) as ex:
        now = ex.now_ms()
        _buy(ex, now - 4 * DAY - 5)
        for _ in range(101):
            _buy(ex, now)
        venue = make_venue(ex, stream_user_data=False)
        await venue.load_instruments()
        try:
            fills = await venue.fetch_fills(SYMBOL, now - 6 * DAY)
        finally:
            await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 102
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    reads = [r["params"] for r in rows if r["path"] == "/api/v3/myTrades"]
    # the oldest page from the time (no window after it, no day by day), one read up to its
    # oldest time (none left before it: the sandbox answered the oldest), then the rest by id
    assert [sorted(k for k in q if k in ("startTime", "endTime", "fromId")) for q in reads] == [
        ["startTime"], ["endTime"], ["fromId"],
    ]  # fmt: skip
    assert reads[0]["startTime"] == str(now - 6 * DAY)


async def test_fills_from_a_time_start_at_it_and_older_ones_are_left_out(
    ex: SandboxExchange, page_of_100: None
) -> None:
    now = ex.now_ms()
    since = now - 3 * DAY
    _buy(ex, since - 1)  # before it
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        assert await venue.fetch_fills(SYMBOL, since) == []  # none since, older ones exist
        _buy(ex, since)  # at it
        for _ in range(100):
            _buy(ex, now)
        fills = await venue.fetch_fills(SYMBOL, since)
    finally:
        await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 101
    assert min(f.ts for f in fills) == since
    assert sum((f.amount for f in fills), Decimal(0)) == Decimal("0.101")


@pytest.mark.parametrize("answer", ["oldest", "latest"])
async def test_a_start_time_alone_loses_no_fill_whichever_page_binance_answers(
    answer: str, page_of_100: None
) -> None:
    # Binance's documentation of myTrades lists `symbol + startTime` as a supported combination
    # and says only that without `fromId` "most recent trades are returned"; the sandbox
    # answers the oldest from `startTime` on, which the fill read assumed. Before: a venue
    # answering the most recent page from `startTime` had every fill older than those lost.
    async with seeded_exchange(SandboxConfig(my_trades_start_alone=answer)) as ex:
        now = ex.now_ms()
        since = now - 3 * DAY
        _buy(ex, since - 1)  # before it: never read
        for i in range(110):
            _buy(ex, since + i // 2)  # two of each millisecond
        venue = make_venue(ex, stream_user_data=False)
        await venue.load_instruments()
        try:
            fills = await venue.fetch_fills(SYMBOL, since)
        finally:
            await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 110
    assert min(f.ts for f in fills) == since


@pytest.mark.parametrize("answer", ["oldest", "latest"])
async def test_more_than_a_page_of_fills_in_one_millisecond_are_all_read(
    answer: str, page_of_100: None
) -> None:
    # One taker order filled against many makers is as many trades of one millisecond. Before:
    # with the most recent page answered from `startTime`, every read back up to that
    # millisecond answered the same page again, and the older ones were silently lost.
    async with seeded_exchange(SandboxConfig(my_trades_start_alone=answer)) as ex:
        now = ex.now_ms()
        since = now - 3 * DAY
        _buy(ex, since - 1)  # before it: never read
        for _ in range(110):
            _buy(ex, since + 5)
        _buy(ex, since + 9)
        venue = make_venue(ex, stream_user_data=False)
        await venue.load_instruments()
        try:
            fills = await venue.fetch_fills(SYMBOL, since)
        finally:
            await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 111
    assert min(f.ts for f in fills) == since + 5
