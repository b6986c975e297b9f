"""The CLOB's `user` channel names a maker's side of a trade by its `maker_orders` entry as
the REST listing does, but the channel's entry carries no `side` (Polymarket's user channel
documentation: `asset_id`, `matched_amount`, `order_id`, `outcome`, `owner`, `price`). Read
as a REST row, every streamed maker fill was refused (`side` missing) and booked only at the
next reconciliation. The side follows from the taker's: the same token, the other side; the
other outcome's token (a complementary match: both buy and mint, or both sell and merge), the
same side. The local CLOB's channel sends the entry as the CLOB does."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from test_pm_maker_fills import _our_maker_no_bought_by_a_yes_buyer
from test_polymarket_venue import NO, YES
from tradeguard.clock import Clock
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


def _event(taker_token: str, taker_side: str, our_token: str, price: str) -> dict[str, Any]:
    """A `user` channel trade as Polymarket documents it, our order `0xa` the maker."""
    return {
        "event_type": "trade", "type": "TRADE", "id": "28c4d2eb", "taker_order_id": "0xt",
        "market": "0xc", "asset_id": taker_token, "side": taker_side, "size": "10",
        "price": "0.47", "status": "MATCHED", "match_time": "1700000000",
        "trader_side": "MAKER", "owner": "9180014b", "outcome": "YES",
        "maker_orders": [{
            "asset_id": our_token, "matched_amount": "10", "order_id": "0xa",
            "outcome": "YES" if our_token == "1001" else "NO", "owner": "9180014b",
            "price": price,
        }],
    }  # fmt: skip


def test_a_streamed_maker_entry_without_a_side_takes_it_from_the_taker_s() -> None:
    venue = PolymarketVenue("polymarket", "http://127.0.0.1:1", "0x" + "11" * 32, Clock())
    venue._symbol_of_token.update({"1001": YES, "1002": NO})
    venue._hashes["tg1-1"] = "0xa"
    cases = [
        (("1001", "BUY", "1001", "0.47"), (YES, Side.SELL)),  # our YES ask lifted
        (("1001", "SELL", "1001", "0.47"), (YES, Side.BUY)),  # our YES bid hit
        (("1001", "BUY", "1002", "0.53"), (NO, Side.BUY)),  # our NO bid met by a YES buyer
        (("1002", "SELL", "1001", "0.47"), (YES, Side.SELL)),  # our YES ask met by a NO seller
    ]
    for row, want in cases:
        (fill,) = venue.fills_from(_event(*row))
        got = (fill.symbol, fill.side)
        assert got == want, (row, got)
        assert (fill.client_order_id, fill.liquidity, fill.fee) == ("tg1-1", LiquiditySide.MAKER, 0)
        assert fill.amount == D(10) and fill.price == D(row[3])


async def test_the_local_clob_streams_maker_entries_as_the_clob_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames: list[dict[str, Any]] = []
    on_frame = PolymarketVenue._on_user_frame

    def tape(self: PolymarketVenue, msg: aiohttp.WSMessage) -> None:
        if msg.type is aiohttp.WSMsgType.TEXT:
            frames.append(json.loads(msg.data))
        on_frame(self, msg)

    monkeypatch.setattr(PolymarketVenue, "_on_user_frame", tape)
    async with PolymarketExchange() as ex:
        venue, rec, order_hash = await _our_maker_no_bought_by_a_yes_buyer(ex)
        try:
            await eventually(lambda: len(rec.fills) == 1)
            (trade,) = [f for f in frames if f.get("event_type") == "trade"]
            (entry,) = trade["maker_orders"]
            assert entry["order_id"] == order_hash and "side" not in entry
            assert venue.api_creds is not None
            assert entry["owner"] == venue.api_creds["api_key"]  # the maker order's key
            (fill,) = rec.fills
            assert (fill.symbol, fill.side, fill.price, fill.amount) == (
                NO,
                Side.BUY,
                D("0.54"),
                10,
            )
        finally:
            await venue.close()


def test_a_streamed_row_names_our_entries_by_our_key_as_the_listing_does() -> None:
    """The channel's entries name no `maker_address`: ours are known by our order hashes and
    our API key (`owner`). Known by hash alone, a row naming two of our orders, one of them
    finished before a restart (its hash no longer known: only open orders are adopted),
    streamed one fill under the row's id where the listing books `<row id>:<order hash>`:
    the open order's fill booked twice."""
    key = "9180014b-33c8-9240-a14b-bdca11c0a465"
    venue = PolymarketVenue(
        "polymarket", "http://127.0.0.1:1", "0x" + "11" * 32, Clock(),
        api_creds={"api_key": key, "secret": "c2VjcmV0", "passphrase": "p"},
    )  # fmt: skip
    venue._symbol_of_token.update({"1001": YES, "1002": NO})
    venue._hashes["tg1-2"] = "0xb"  # open, adopted; 0xa filled before the restart
    me = venue.signer.address
    streamed = _event("1001", "BUY", "1001", "0.47")
    (entry,) = streamed["maker_orders"]
    streamed["maker_orders"] = [{**entry, "owner": key}, {**entry, "order_id": "0xb", "owner": key}]
    listed = {
        **streamed, "maker_orders": [
            {**m, "maker_address": me, "side": "SELL"} for m in streamed["maker_orders"]
        ],
    }  # fmt: skip
    by_stream = [(f.trade_id, f.venue_order_id, f.side) for f in venue.fills_from(streamed)]
    by_listing = [(f.trade_id, f.venue_order_id, f.side) for f in venue.fills_from(listed)]
    assert by_stream == by_listing == [
        ("28c4d2eb:0xa", "0xa", Side.SELL), ("28c4d2eb:0xb", "0xb", Side.SELL),
    ]  # fmt: skip
    theirs = {**streamed, "maker_orders": [{**entry, "owner": "another-key"}]}
    with pytest.raises(ValueError, match="none of the 1 entries is ours"):
        venue.fills_from(theirs)  # another key's order, its hash not ours
