"""A resting Kalshi sell filled just after reconciliation's balance read, its fill streamed at
once, while the fills are caught up again market by market (the first market's answer slow):
the fill is booked from the stream before its market's catch-up starts, so that catch-up finds
nothing new, yet the balances read before the fill must not be applied against a ledger that
holds it (an adjustment would undo the fill)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from kalshi_node_support import TICKER, buy, resting_sell, started_kalshi_node
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus
from tradeguard.model.outcome import Outcome
from tradeguard.sandbox.testing import eventually

D = Decimal
OTHER = "KXBTC-26DEC-T100K:YES/USD"  # caught up before TICKER's symbol (sorted first)
FILLS = "/trade-api/v2/portfolio/fills"
POSITIONS = "/trade-api/v2/portfolio/positions"


async def _take_after_the_read(server, price: Decimal, done: asyncio.Event) -> None:
    """Once a fills request follows the balance read's positions request, the house takes the
    resting sell (its fill streamed at once)."""
    start = len(server.requests)
    for _ in range(2000):
        paths = [c["path"] for c in list(server.requests)[start:]]
        if POSITIONS in paths and FILLS in paths[paths.index(POSITIONS) :]:
            server.house_takes(TICKER, Outcome.YES, price, D(10))
            done.set()
            return
        await asyncio.sleep(0.005)


async def test_a_fill_streamed_after_the_balance_read_books_no_adjustment(
    tmp_path: Path, monkeypatch
):
    async with started_kalshi_node(tmp_path, monkeypatch) as (server, node, keys):
        venue = node.venues["kalshi"]
        await buy(node, OTHER, "2", str((await venue.fetch_quote(OTHER)).ask))
        sell, price = await resting_sell(node)
        await venue.balance_reader.idle()
        server.faults.latency_ms_by_endpoint = {FILLS: 300}  # each fills answer takes a while
        took = asyncio.Event()
        taker = asyncio.create_task(_take_after_the_read(server, price, took))
        report = await reconcile_and_gate(node)
        await taker
        assert took.is_set()
        server.faults.latency_ms_by_endpoint = {}
        await eventually(lambda: sell.status is OrderStatus.FILLED)
        assert report.ok and report.balance_adjustments == [], report.to_json()
        assert report.balances_deferred == [], report.to_json()  # read again, then applied
        acct = server.account_of(keys["key_id"])
        book = node.portfolio.book("kalshi")
        assert book.total(f"{TICKER}:YES") == 0 and book.total("USD") == acct.cash
        again = await reconcile_and_gate(node)
        assert again.ok and again.balance_adjustments == [], again.to_json()
