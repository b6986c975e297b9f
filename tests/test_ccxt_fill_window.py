"""Binance answers the account's trades over at most 24 hours of time: a startTime and endTime
further apart are refused (-1127), a startTime alone reads the day after it, and fromId with a
time is no supported combination (-1128). A read of fills from days back (a catch-up of an order
that rested for days) must still find the fills made since, past the empty days."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from test_ccxt_support import SYMBOL, make_venue
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY

DAY = 86_400_000
S = "BTC/USDT"


def _buy(ex: SandboxExchange, at_ms: int) -> None:
    account = ex.auth.keys[ALICE_KEY].account_id
    ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", at_ms, qty=Decimal("0.001"))


async def test_my_trades_answers_at_most_one_day_from_a_start(
    ex: SandboxExchange, client: Any
) -> None:
    now = ex.now_ms()
    _buy(ex, now - 3 * DAY)
    _buy(ex, now)
    rows = await client.fetch_my_trades(S, now - 3 * DAY - 1)
    assert [r["timestamp"] for r in rows] == [now - 3 * DAY]
    assert await client.fetch_my_trades(S, now - 2 * DAY) == []
    rows = await client.fetch_my_trades(S, None, None, {"endTime": now - DAY})
    assert rows == []


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
    ex: SandboxExchange,
) -> None:
    now = ex.now_ms()
    _buy(ex, now - 2 * DAY - 5)
    for _ in range(1001):
        _buy(ex, now)
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_fills(SYMBOL, now - 5 * DAY)
    finally:
        await venue.close()
    assert len({f.trade_id for f in fills}) == len(fills) == 1002
    assert min(f.ts for f in fills) == now - 2 * DAY - 5
