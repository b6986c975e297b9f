"""The account's trades as the CLOB lists them (`/data/trades`): newest first, the cursor an
offset into the listing, narrowed by `market` or `asset_id` (py-clob-client's `TradeParams`).
The venue reads one market's trades alone (a row is the taker's: our maker side of a
complementary match is listed under the other outcome's `asset_id`), and a listing read in
parts misses no trade made between two parts (it lands before the cursor, not after it)."""

from __future__ import annotations

import itertools
import sys
import time
import types
from decimal import Decimal
from typing import Any

import httpx
from eth_account import Account

from tradeguard.clock import Clock
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.polymarket import venue as venue_module
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal
_ids = itertools.count(1)


def _trade(market: str, token: str, ts_s: int, side: str = "BUY") -> dict[str, Any]:
    n = next(_ids)
    return {
        "id": f"t{n}", "taker_order_id": f"0x{n:064x}", "maker_orders": [],
        "market": market, "asset_id": token, "side": side, "size": "1", "price": "0.5",
        "fee_paid": "0", "trader_side": "TAKER", "status": "CONFIRMED",
        "match_time": str(ts_s),
    }  # fmt: skip


async def _venue(ex: PolymarketExchange) -> tuple[PolymarketVenue, list[dict[str, Any]]]:
    """A venue on a fresh account of `ex` (markets A and B listed) and that account's trades."""
    ex.add_market("A", "1001", "1002")
    ex.add_market("B", "2001", "2002")
    wallet = Account.create()
    account = ex.add_account(wallet.address, D(100))
    venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock())
    await venue.connect()
    return venue, ex.trades.setdefault(account.account_id, [])


def _cid(ex: PolymarketExchange, slug: str) -> str:
    return next(c for c, m in ex.markets.items() if m.slug == slug)


async def _read_round(venue: PolymarketVenue, symbol: str, parts: int) -> tuple[list[str], bool]:
    """Read `symbol`'s trades part by part, each booked, until a part ends the round (at most
    `parts`); the trade ids read and whether the round ended."""
    read: list[str] = []
    whole = False
    for _ in range(parts):
        fills, whole = await venue.fetch_fills_part(symbol)
        read += [f.trade_id for f in fills]
        venue.fills_part_kept(symbol)
        if whole:
            break
    return read, whole


def _sale_after_a_page(venue: PolymarketVenue, rows: list[dict[str, Any]], sale: Any) -> None:
    """Make `sale` on the CLOB once the venue has read its next page of trades."""
    page = venue._trades_page

    async def then_a_sale(query: dict[str, str]) -> Any:
        data = await page(query)
        if sale not in rows:
            rows.append(sale)  # made once the page is read
        return data

    venue._trades_page = then_a_sale  # type: ignore[method-assign]


def _trade_calls(ex: PolymarketExchange) -> list[dict[str, str]]:
    return [c["query"] for c in ex.requests if c["path"] == "/data/trades"]


async def test_the_local_clob_lists_trades_newest_first_narrowed_as_asked() -> None:
    async with PolymarketExchange(page_size=2) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            rows += [_trade(a, "1001", 100), _trade(a, "1002", 101), _trade(a, "1001", 102)]
            head = dict(venue._l2("GET", "/data/trades", ""))

            async def ids(**query: str) -> list[str]:
                async with httpx.AsyncClient() as client:
                    r = await client.get(f"{ex.url}/data/trades", params=query, headers=head)
                assert r.status_code == 200, r.text
                return [t["id"] for t in r.json()["data"]]

            first, second = rows[0]["id"], rows[2]["id"]
            assert await ids() == [second, rows[1]["id"]]  # newest first, two a page
            assert await ids(next_cursor="Mg==") == [first]
            assert await ids(asset_id="1001") == [second, first]
            assert await ids(market=a, after="100") == [second, rows[1]["id"]]
            assert await ids(before="101") == [first]
            async with httpx.AsyncClient() as client:
                bad = await client.get(
                    f"{ex.url}/data/trades", params={"after": "soon"}, headers=head
                )
            assert bad.status_code == 400 and "after 'soon'" in bad.text
        finally:
            await venue.close()


async def test_one_outcome_s_trades_are_read_alone_never_the_whole_account_s_listing() -> None:
    # 12 trades of market B, then one of A's YES and one of A's NO; one trade a page
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a, b = _cid(ex, "A"), _cid(ex, "B")
            rows += [_trade(b, "2001" if i % 2 else "2002", 100 + i) for i in range(12)]
            rows += [_trade(a, "1001", 200), _trade(a, "1002", 201)]
            yes, no = venue._symbol_of_token["1001"], venue._symbol_of_token["1002"]
            ex.requests.clear()
            fills, whole = await venue.fetch_fills_part(yes)
            assert whole and {f.trade_id for f in fills} == {rows[12]["id"]}
            fills, whole = await venue.fetch_fills_part(no)
            assert whole and {f.trade_id for f in fills} == {rows[13]["id"]}
            # before: 14 pages each (the whole account's listing, read twice for one market);
            # now the market's listing alone (its two trades: a few pages each read)
            calls = _trade_calls(ex)
            assert {c.get("market") for c in calls} == {a} and len(calls) <= 6, calls
            assert [f.trade_id for f in await venue.fetch_fills(yes)] == [rows[12]["id"]]
        finally:
            await venue.close()


async def test_sales_made_between_two_parts_of_one_read_are_read_in_that_round() -> None:
    # Six buys of A's YES, two a page, two pages a read: the round's first part reads the four
    # newest; then two sales are made; the round goes on from its cursor to the listing's end.
    async with PolymarketExchange(page_size=2) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100 + i) for i in range(6)]
            venue.max_pages = 2
            yes = venue._symbol_of_token["1001"]
            fills, whole = await venue.fetch_fills_part(yes)
            assert not whole and len(fills) == 4
            venue.fills_part_kept(yes)  # booked: the next part goes on from the cursor
            sales = [_trade(a, "1001", now, side="SELL"), _trade(a, "1001", now, side="SELL")]
            rows += sales
            read, whole = await _read_round(venue, yes, 3)
            assert whole
            # before: the sales sat before the cursor (newest first) and the round ended
            # without them, the oldest buys read twice instead
            assert {s["id"] for s in sales} <= set(read), read
            assert {r["id"] for r in rows[:2]} <= set(read), read  # the oldest: not skipped
        finally:
            await venue.close()


async def test_a_trade_made_between_two_pages_of_a_round_s_first_part_skips_none() -> None:
    # Three buys of A's YES, one a page, two pages a read. A sale is made after the first
    # part's first page is read: the listing it pages shifts by one (the sale on top), so the
    # first part's cursor counts the sale. The round's later parts list trades up to its
    # newest second only (`before`), the sale left out: that cursor must not skip a trade.
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100 + i) for i in range(3)]
            venue.max_pages = 2
            yes = venue._symbol_of_token["1001"]
            sale = _trade(a, "1001", now, side="SELL")
            _sale_after_a_page(venue, rows, sale)
            read, whole = await _read_round(venue, yes, 4)
            assert whole
            assert {r["id"] for r in rows} <= set(read), (read, [r["id"] for r in rows])
        finally:
            await venue.close()


async def test_a_round_is_dated_by_the_clob_s_clock_even_when_no_fill_of_its_top_is_read(
    monkeypatch: Any,
) -> None:
    # The first part's page holds only rows no fill is made of (no fee): the round was dated
    # by the local clock, here 1000 s ahead of the CLOB's. A sale made between two parts,
    # stamped by the CLOB before that date, sat on top of the listing the later parts page
    # and before the `after` the round ended with: never read, the round called whole.
    async with PolymarketExchange(page_size=2) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100 + i) for i in range(4)]
            for row in rows[2:]:
                del row["fee_paid"]  # unreadable: skipped with a warning
            venue.max_pages = 1
            yes = venue._symbol_of_token["1001"]

            def clock() -> float:  # the round's date ahead; the requests' signatures not
                dating = sys._getframe(1).f_code.co_name in ("fetch_fills_part", "_round_top")
                return float(now + 1000) if dating else time.time()

            ahead = types.SimpleNamespace(time=clock)
            monkeypatch.setattr(venue_module, "time", ahead)
            fills, whole = await venue.fetch_fills_part(yes)
            assert not whole and fills == []
            venue.fills_part_kept(yes)
            sale = _trade(a, "1001", now, side="SELL")
            rows.append(sale)
            read, whole = await _read_round(venue, yes, 4)
            assert sale["id"] in read, read
        finally:
            await venue.close()


async def test_a_sale_made_while_a_one_part_round_pages_is_read_in_that_round() -> None:
    # Two buys of A's YES, one a page, three pages a read: the round is one part, and a sale
    # is made once its first page is read. The round ends whole: with the sale in it.
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a = _cid(ex, "A")
            now = int(ex.now_s())
            rows += [_trade(a, "1001", now - 100 + i) for i in range(2)]
            venue.max_pages = 3
            yes = venue._symbol_of_token["1001"]
            sale = _trade(a, "1001", now, side="SELL")
            _sale_after_a_page(venue, rows, sale)
            fills, whole = await venue.fetch_fills_part(yes)
            assert whole
            assert {r["id"] for r in rows} <= {f.trade_id for f in fills}, fills
        finally:
            await venue.close()


async def test_trades_since_a_time_are_read_without_the_account_s_older_history() -> None:
    # Twelve old trades of market B, one a page, four pages a read; one recent trade of A.
    # The trades since a time are asked for (`after`): the older history, however long, is
    # not paged through (before: refused with TOO_MANY_PAGES, and a reconciliation with it).
    async with PolymarketExchange(page_size=1) as ex:
        venue, rows = await _venue(ex)
        try:
            a, b = _cid(ex, "A"), _cid(ex, "B")
            now = int(ex.now_s())
            rows += [_trade(b, "2001", now - 1000 + i) for i in range(12)]
            rows += [_trade(a, "1001", now), _trade(a, "1001", now - 500 + 0)]
            rows[-1]["match_time"], rows[-2]["match_time"] = str(now), str(now)
            venue.max_pages = 4
            yes = venue._symbol_of_token["1001"]
            since_ms = (now - 10) * 1000
            assert await venue.traded_symbols(since_ms) == {yes}
            assert {f.trade_id for f in await venue.fetch_fills(yes, since_ms)} == {
                r["id"] for r in rows[-2:]
            }
            rows += [_trade(a, "1001", now - 900 + i) for i in range(6)]  # old trades of A
            assert len(await venue.fetch_fills(yes, since_ms)) == 2
        finally:
            await venue.close()
