"""Our maker fills as the CLOB lists them: a trade row is the taker's (its `asset_id`, `side`,
`price`, `size`), and where we are the maker (`trader_side` MAKER) our side is our entry of
`maker_orders`, with its own `asset_id`, `side`, `price` and `matched_amount`. In a
complementary match (our NO bid met by a YES buyer, or our YES bid by a NO buyer) the row's
`asset_id` is the other outcome's token: a listing narrowed by our token misses it, one
narrowed by the market (`market`, the condition id) lists it.

The local CLOB, the venue, and the official py-clob-client (another account, by hand)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2, TradeParams

from test_polymarket_venue import NO, YES, Recorder, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue
from tradeguard.venues.user_stream import parsed_rows

D = Decimal


async def _client(ex: PolymarketExchange, key: str) -> ClobClient:
    client = ClobClient(ex.url, chain_id=137, key=key)
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    return client


async def _maker_and_hand(ex: PolymarketExchange) -> tuple[PolymarketVenue, Recorder, ClobClient]:
    """fed-dec seeded at 0.45/0.47; our venue on the user channel, and the hand's client."""
    ex.add_market("fed-dec", "1001", "1002")
    ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    ours, hand = Account.create(), Account.create()
    ex.add_account(ours.address, D(1000))
    ex.add_account(hand.address, D(1000))
    rec = Recorder()
    ws_user = ex.url.replace("http", "ws") + "/ws/user"
    venue = PolymarketVenue("polymarket", ex.url, ours.key.hex(), Clock(), ws_url=ws_user)
    venue.set_listener(rec)
    await venue.connect()
    return venue, rec, await _client(ex, hand.key.hex())


async def _hand_buys(client: ClobClient, token: str, price: str, size: str = "10") -> None:
    answer = await asyncio.to_thread(
        client.create_and_post_order,
        OrderArgsV2(token_id=token, price=float(price), size=float(size), side="BUY"),
    )
    assert answer["success"] and answer["status"] == "matched", answer


async def _our_maker_no_bought_by_a_yes_buyer(
    ex: PolymarketExchange,
) -> tuple[PolymarketVenue, Recorder, str]:
    """Our NO bid at 0.54 (a YES ask at 0.46, ahead of the book's) met by the hand buying
    10 YES at 0.46: a complementary match, both sides minting. The order's hash."""
    venue, rec, hand = await _maker_and_hand(ex)
    order = make_order("tg1-1", NO, Side.BUY, "10", "0.54")
    report = await venue.submit(order)
    assert report.filled == 0
    await _hand_buys(hand, "1001", "0.46")
    return venue, rec, report.venue_order_id


async def test_the_local_clob_lists_a_complementary_maker_fill_as_the_taker_s_trade() -> None:
    async with PolymarketExchange() as ex:
        venue, _, order_hash = await _our_maker_no_bought_by_a_yes_buyer(ex)
        try:
            ours = await _client(ex, venue._key)
            (cid,) = ex.markets
            by_our_token = await asyncio.to_thread(ours.get_trades, TradeParams(asset_id="1002"))
            assert by_our_token == []  # the row is the YES taker's
            (row,) = await asyncio.to_thread(ours.get_trades, TradeParams(market=cid))
            assert (row["asset_id"], row["side"], row["price"], row["size"]) == (
                "1001", "BUY", "0.46", "10",
            )  # fmt: skip
            assert row["trader_side"] == "MAKER"
            (entry,) = row["maker_orders"]
            assert entry["order_id"] == order_hash
            assert (entry["asset_id"], entry["side"], entry["price"]) == ("1002", "BUY", "0.54")
            assert entry["matched_amount"] == "10"
            assert entry["maker_address"] == venue.signer.address.lower()
            assert entry["outcome"] == "No"
        finally:
            await venue.close()


async def test_a_complementary_maker_fill_is_booked_by_our_order_s_asset_price_and_size() -> None:
    async with PolymarketExchange() as ex:
        venue, rec, order_hash = await _our_maker_no_bought_by_a_yes_buyer(ex)
        try:
            want = (NO, Side.BUY, D("0.54"), D(10), D(0), LiquiditySide.MAKER, "tg1-1")

            def seen(f: Any) -> tuple[Any, ...]:
                return (f.symbol, f.side, f.price, f.amount, f.fee, f.liquidity, f.client_order_id)

            await eventually(lambda: len(rec.fills) == 1)
            assert seen(rec.fills[0]) == want  # streamed
            (listed,) = await venue.fetch_fills(NO)
            assert seen(listed) == want and listed.venue_order_id == order_hash
            assert listed.trade_id == rec.fills[0].trade_id
            assert await venue.fetch_fills(YES) == []  # never booked as the taker's YES
            part, whole = await venue.fetch_fills_part(NO)
            assert whole and [seen(f) for f in part] == [want]
            assert await venue.traded_symbols() == {NO}
            balances = {b.asset: b.total for b in await venue.fetch_balances()}
            assert balances["fed-dec:NO"] == 10 and "fed-dec:YES" not in balances
        finally:
            await venue.close()


def _row(makers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "t1", "taker_order_id": "0xtaker", "maker_orders": makers, "market": "0xc",
        "asset_id": "1001", "side": "BUY", "size": "15", "price": "0.47", "fee_paid": "0.1",
        "trader_side": "MAKER", "status": "CONFIRMED", "match_time": "1700000000",
    }  # fmt: skip


def _entry(order_id: str, address: str, size: str, price: str = "0.53") -> dict[str, Any]:
    return {
        "order_id": order_id, "maker_address": address, "asset_id": "1002", "side": "BUY",
        "price": price, "matched_amount": size, "outcome": "No", "fee_rate_bps": "0",
    }  # fmt: skip


def test_a_row_naming_two_of_our_maker_orders_books_a_fill_for_each() -> None:
    venue = PolymarketVenue("polymarket", "http://127.0.0.1:1", "0x" + "11" * 32, Clock())
    venue._symbol_of_token.update({"1001": YES, "1002": NO})
    me = venue.signer.address
    row = _row([
        _entry("0xother", "0x" + "22" * 20, "5"), _entry("0xa", me, "4"),
        _entry("0xb", me.lower(), "6", "0.52"),
    ])  # fmt: skip
    fills = venue.fills_from(row)
    got = [(f.symbol, f.venue_order_id, f.amount, f.price, f.fee) for f in fills]
    assert got == [(NO, "0xa", D(4), D("0.53"), D(0)), (NO, "0xb", D(6), D("0.52"), D(0))]
    assert len({(f.trade_id, f.side) for f in fills}) == 2  # neither a duplicate of the other
    noted: dict[str, str] = {}
    none_ours = _row([_entry("0xother", "0x" + "22" * 20, "5")])
    assert parsed_rows("polymarket", [none_ours], venue.fills_from, noted) == []
    assert "maker_orders" in noted["0xother"]
