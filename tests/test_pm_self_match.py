"""A match whose taker and maker are both ours (our YES buy crossing our own resting NO bid: a
complementary match, both minting). The CLOB lists each side's row to the account: the taker's
(`trader_side` TAKER, its maker entry ours too) and the maker's (MAKER). Each side is booked
exactly once: the taker row books the taker's fill alone, the maker row the maker's, from the
listing and from the `user` channel alike, and again alike after a restart.

The local CLOB (self-trade prevention off, `BinaryBook.prevent_self_trade`), the venue, and the
official py-clob-client."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from py_clob_client_v2.clob_types import TradeParams

from test_pm_maker_fills import _client, _maker_and_hand
from test_polymarket_venue import NO, YES, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


def _sides(fills) -> list[tuple]:
    return sorted((f.symbol, f.side, f.price, f.amount, f.liquidity) for f in fills)


WANT = [
    (NO, Side.BUY, D("0.54"), D(10), LiquiditySide.MAKER),
    (YES, Side.BUY, D("0.46"), D(10), LiquiditySide.TAKER),
]


async def test_a_match_of_two_of_our_orders_books_each_side_once() -> None:
    async with PolymarketExchange() as ex:
        venue, rec, _ = await _maker_and_hand(ex)
        ex.book.prevent_self_trade = False  # the two of ours match
        again = PolymarketVenue("polymarket", ex.url, venue._key, Clock())  # a restart's
        try:
            resting = await venue.submit(make_order("tg1-1", NO, Side.BUY, "10", "0.54"))
            taken = await venue.submit(make_order("tg1-2", YES, Side.BUY, "10", "0.46"))
            assert resting.filled == 0 and taken.filled == 10
            ours = await _client(ex, venue._key)
            (cid,) = ex.markets
            rows = await asyncio.to_thread(ours.get_trades, TradeParams(market=cid))
            assert sorted(r["trader_side"] for r in rows) == ["MAKER", "TAKER"]
            assert len({r["transaction_hash"] for r in rows}) == 1  # one match
            taker_row = next(r for r in rows if r["trader_side"] == "TAKER")
            assert taker_row["maker_orders"][0]["order_id"] == resting.venue_order_id

            # streamed (and the taker's read after its submit): each trade id one side
            await eventually(lambda: {f.trade_id for f in rec.fills} == {r["id"] for r in rows})
            by_id = {f.trade_id: f for f in rec.fills}
            assert _sides(by_id.values()) == WANT
            assert {f.trade_id: f.client_order_id for f in by_id.values()} == {
                f.trade_id: "tg1-1" if f.symbol == NO else "tg1-2" for f in by_id.values()
            }
            listed = [*await venue.fetch_fills(YES), *await venue.fetch_fills(NO)]
            assert _sides(listed) == WANT and {f.trade_id for f in listed} == set(by_id)
            await again.connect()  # after a restart: the hashes unknown, the same fills
            relisted = [*await again.fetch_fills(YES), *await again.fetch_fills(NO)]
            assert _sides(relisted) == WANT and {f.trade_id for f in relisted} == set(by_id)
            assert await again.traded_symbols() == {YES, NO}
        finally:
            await venue.close()
            await again.close()
