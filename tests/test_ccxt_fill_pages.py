"""The venue's trade-history read from a point in time pages forward through every fill, as a
catch-up after a reconnect books an order's fills from it: a single page (Binance answers at
most 1000 rows, 500 unless asked) dropped the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from test_ccxt_support import SYMBOL, make_venue
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY
from tradeguard.venues.ccxt_connection import FILL_PAGE_FROM_ID


@pytest.fixture
def page_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trade history read 100 rows a page (Binance's `limit` on myTrades, up to 1000), through
    the same ccxt calls: a tenth of the fills makes more than a page."""
    monkeypatch.setitem(FILL_PAGE_FROM_ID, "binance", 100)


def _trade_many(ex: SandboxExchange, n: int) -> None:
    account = ex.auth.keys[ALICE_KEY].account_id
    for _ in range(n):
        ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=Decimal("0.0005"))


async def test_fills_from_a_point_in_time_are_all_read_past_one_page(
    ex: SandboxExchange, page_of_100: None
) -> None:
    since = ex.now_ms() - 1
    _trade_many(ex, 123)
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_fills(SYMBOL, since)
    finally:
        await venue.close()
    assert len(fills) == 123
    assert len({f.trade_id for f in fills}) == 123
    assert sum((f.amount for f in fills), Decimal(0)) == Decimal("0.0615")


async def test_a_history_that_answers_the_same_full_page_again_is_an_error_not_a_loop(
    ex: SandboxExchange,
) -> None:
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    page = [{"id": str(i), "symbol": SYMBOL, "timestamp": 1000 + i} for i in range(1, 1001)]
    calls: list[object] = []

    async def same_page(*args: object) -> list[dict[str, object]]:
        calls.append(args)
        return page

    venue.client.fetch_my_trades = same_page
    try:
        with pytest.raises(AmbiguousVenueError, match="ascending ids"):
            await venue.fetch_fills(SYMBOL, 1)
    finally:
        await venue.close()
    # the page from the start, one read up to its oldest time (the same page: no row left
    # before it), the same page again from its last id
    assert len(calls) == 3


async def test_an_order_with_more_fills_than_a_page_has_them_all_read(
    ex: SandboxExchange, page_of_100: None
) -> None:
    asks = [(str(50001 + i), "0.001") for i in range(125)]
    ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=asks)
    account = ex.auth.keys[ALICE_KEY].account_id
    placed = ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=Decimal("0.12"))
    assert placed.order is not None and len(placed.trades) == 120
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_order_fills("tg-big", str(placed.order.order_id), SYMBOL)
    finally:
        await venue.close()
    assert len({f.trade_id for f in fills}) == 120
    assert sum((f.amount for f in fills), Decimal(0)) == Decimal("0.12")
    assert {f.client_order_id for f in fills} == {"tg-big"}


async def test_a_trade_on_both_sides_split_by_a_page_end_keeps_both_fills(
    ex: SandboxExchange, page_of_100: None
) -> None:
    # the account's own sell met its own buy: myTrades has two rows with one trade id, and
    # the next page from the id after the page's last skipped the second row's fill
    since = ex.now_ms() - 1
    _trade_many(ex, 99)
    account = ex.auth.keys[ALICE_KEY].account_id
    now = ex.now_ms()
    q, p = Decimal("0.001"), Decimal("50000")
    ex.engine.place(account, "BTCUSDT", "SELL", "LIMIT", now, qty=q, price=p)
    crossed = ex.engine.place(account, "BTCUSDT", "BUY", "MARKET", now, qty=q)
    assert [t.seller_account for t in crossed.trades] == [account]
    venue = make_venue(ex, stream_user_data=False)
    await venue.load_instruments()
    try:
        fills = await venue.fetch_fills(SYMBOL, since)
    finally:
        await venue.close()
    assert len(fills) == 101
    own = [f for f in fills if f.trade_id == str(crossed.trades[0].trade_id)]
    assert sorted(f.side.value for f in own) == ["buy", "sell"]
