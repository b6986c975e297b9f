"""Our local Kalshi server and venue against what Kalshi's Trade API v2 documents:
- cancelling is decreasing an order to zero (Decrease Order): the contracts already matched stay
  filled and held, the answer carries the order (`status` canceled, `fill_count_fp` what
  filled, `remaining_count_fp` 0) and `reduced_by_fp`, the contracts the cancel took off;
- a market position is one signed count (Get Positions `position_fp`: positive YES, negative NO);
  rows carry more fields than ours (`total_traded_dollars`, `market_exposure_dollars`,
  `realized_pnl_dollars`, `fees_paid_dollars`, `resting_orders_count`, `last_updated_ts`), and a
  market whose position is back to zero may still be listed: both read as the venue sends them.
"""

from __future__ import annotations

import json
from decimal import Decimal

from aiohttp import web

from pm_support import TICKER, rsa_pem
from rigs import answering
from test_kalshi_venue import NO, YES, make_order, started
from tradeguard.clock import Clock
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.venue import KalshiVenue

D = Decimal


async def test_a_cancel_after_a_partial_fill_keeps_the_fill_and_reports_what_it_took_off():
    async with KalshiExchange() as ex:
        venue, _rec, _, _ = await started(ex)
        try:
            await venue.load_instruments()
            order = make_order("tg1-1", YES, Side.BUY, "150", "0.47")  # 100 offered at 0.47
            report = await venue.submit(order)
            assert report.filled == 100 and report.status is OrderStatus.PARTIALLY_FILLED
            answer = await venue.client.cancel_order(report.venue_order_id)
            got = answer["order"]
            assert (got["status"], got["fill_count_fp"], got["remaining_count_fp"]) == (
                "canceled", "100.00", "0.00")  # fmt: skip
            assert answer["reduced_by_fp"] == "50.00"
            found = await venue.fetch_order("tg1-1", YES)
            assert found is not None and found.status is OrderStatus.CANCELLED
            assert found.filled == 100
            held = {b.asset: b.total for b in await venue.fetch_balances()}
            assert held[f"{TICKER}:YES"] == 100 and f"{TICKER}:NO" not in held
            [row] = await venue.client.positions()
            assert (row["ticker"], row["position_fp"]) == (TICKER, "100.00")
            # NO bought with YES held: one signed position, 30 pairs paid out at 1 each
            cash = held["USD"]
            await venue.submit(make_order("tg1-2", NO, Side.BUY, "30", "0.55"))
            [row] = await venue.client.positions()
            assert row["position_fp"] == "70.00"
            after = {b.asset: b.total for b in await venue.fetch_balances()}
            assert after[f"{TICKER}:YES"] == 70 and f"{TICKER}:NO" not in after
            assert after["USD"] > cash  # the 30 pairs' dollar, less what the NO cost
        finally:
            await venue.close()


def _position(ticker: str, fp: str, **extra: object) -> dict:
    return {"ticker": ticker, "position_fp": fp, "total_traded_dollars": "12.340000",
            "market_exposure_dollars": "4.700000", "realized_pnl_dollars": "-0.120000",
            "fees_paid_dollars": "0.350000", "resting_orders_count": 0,
            "last_updated_ts": "2026-12-01T10:00:00Z", **extra}  # fmt: skip


async def test_positions_read_as_kalshi_documents_them():
    rows = [_position("KXA", "10.00"), _position("KXB", "-3.00"), _position("KXC", "0.00")]

    async def venue_answers(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/trade-api/v2")
        body: dict = {
            "/portfolio/orders": {"orders": [], "cursor": ""},
            "/portfolio/balance": {"balance": 1000, "balance_dollars": "10.0000"},
            "/portfolio/positions": {"market_positions": rows, "event_positions": [],
                                     "cursor": ""},
        }[path]  # fmt: skip
        return web.Response(text=json.dumps(body), content_type="application/json")

    runner, base = await answering(venue_answers)
    pem, _ = rsa_pem()
    venue = KalshiVenue("kalshi", f"{base}/trade-api/v2", "k1", pem, Clock())
    try:
        held = {b.asset: b.total for b in await venue.fetch_balances() if b.total}
    finally:
        await venue.close()
        await runner.cleanup()
    assert held == {"USD": D("10"), "KXA:YES": D(10), "KXB:NO": D(3)}
