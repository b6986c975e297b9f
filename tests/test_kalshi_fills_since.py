"""After a long stop, Kalshi's fills are read from the last checkpoint (`min_ts`), never the
market's whole history: a busy market's older fills, however many pages they fill, neither
slow the start-up catch-up nor get its listing refused at the page cap."""

from __future__ import annotations

import copy
from decimal import Decimal

from pm_support import TICKER, seeded_kalshi
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderType, Side, TimeInForce
from tradeguard.model.order import Order
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal
YES = f"{TICKER}:YES/USD"
DAY_S = 86_400


def _buy(cid: str) -> Order:
    return Order(cid, "s1", "kalshi", YES, Side.BUY, OrderType.LIMIT, D(1), D("0.47"),
                 TimeInForce.GTC)  # fmt: skip


async def test_fills_after_a_long_stop_are_read_from_the_checkpoint_alone():
    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        venue.max_pages = 2  # 4 fills a listing at most
        await venue.connect()
        try:
            await venue.submit(_buy("tg-new"))
            (rows,) = ex.fills.values()  # the account's
            (row,) = rows
            # weeks of older fills on the market: 3 pages and more of them
            for i in range(7):
                old = copy.deepcopy(row)
                old["trade_id"] = old["fill_id"] = old["client_order_id"] = f"old-{i}"
                old["ts"] = row["ts"] - (20 - i) * DAY_S
                old.pop("created_time", None)
                rows.insert(0, old)
            checkpoint = (row["ts"] - 8 * DAY_S) * 1000  # the node stopped 8 days ago
            before = len(ex.requests)
            fills = await venue.fetch_fills(YES, checkpoint)
            assert [f.client_order_id for f in fills] == ["tg-new"]
            pages = [r for r in list(ex.requests)[before:] if r["path"].endswith("/fills")]
            assert len(pages) == 1, pages  # the fills since the checkpoint: one page
        finally:
            await venue.close()


async def test_a_fill_in_the_checkpoints_second_after_it_is_read():
    """Kalshi's `ts` is the whole second: a fill at .700 of the checkpoint's second (.500) is
    listed by `min_ts` (asked from the second before), and kept as after the checkpoint."""
    from tradeguard.sandbox.kalshi.wire import iso

    async with KalshiExchange(page_size=2) as ex:
        key_id, pem = seeded_kalshi(ex)
        venue = KalshiVenue("kalshi", ex.rest_url, key_id, pem, Clock())
        await venue.connect()
        try:
            await venue.submit(_buy("tg-same-second"))
            ((row,),) = ex.fills.values()
            second = row["ts"]
            row["created_time"] = iso(second * 1000 + 700)
            fills = await venue.fetch_fills(YES, second * 1000 + 500)
            assert [(f.client_order_id, f.ts) for f in fills] == [
                ("tg-same-second", second * 1000 + 700)
            ]
            asked = [r for r in ex.requests if r["path"].endswith("/fills")][-1]
            assert "min_ts" in asked["query"], asked  # narrowed, not the whole history
        finally:
            await venue.close()
