"""A taker order that filled is answered with its fills, listed from its market's trades
(`fetch_fills`). That listing holds both outcomes' trades of the account: one longer than the
page cap (`max_pages`) was refused (`TOO_MANY_PAGES`, a refusal), and the submit with it, so
an order the CLOB had placed and filled was journaled as rejected. A listing that fails
after the order is placed leaves its fills to the `user` channel and the reconciliation."""

from __future__ import annotations

from decimal import Decimal

from eth_account import Account

from test_pm_trade_listing import _trade
from test_polymarket_venue import NO, YES, Recorder, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


async def test_a_filled_taker_order_is_no_refusal_when_its_market_lists_long() -> None:
    async with PolymarketExchange(page_size=1) as ex:
        ex.add_market("fed-dec", "1001", "1002")
        ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
        wallet = Account.create()
        account = ex.add_account(wallet.address, D(1000))
        (cid,) = ex.markets
        # two earlier NO trades of ours: the market's listing, not YES's, is longer than the cap
        ex.trades.setdefault(account.account_id, []).extend(
            [_trade(cid, "1002", int(ex.now_s()) - 60 + i) for i in range(2)]
        )
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock())
        rec = Recorder()
        venue.set_listener(rec)
        await venue.connect()
        try:
            venue.max_pages = 2
            assert len(await venue.fetch_fills(NO)) == 2  # two pages: within the cap
            report = await venue.submit(make_order("tg1-1", YES, Side.BUY, "10", "0.47"))
            assert report.filled == D(10) and report.client_order_id == "tg1-1"
            assert report.status.is_terminal and not report.status.is_open
        finally:
            await venue.close()
