"""The merge check reads the account's trades (`/data/trades`) page by page; a listing longer
than the venue's page cap (`max_pages`) must not stop the venue's pass for good: what was read
is booked, the rest is read from where the read stopped at the next pass, and the sales by
hand end up booked as trades, never a merge nor adjustments.

The local CLOB and the official py-clob-client (the "hand") on the node's own account."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pm_merge_support import demo_clob, holding_a_pair, synced
from test_pm_merge_hand_sales import _booked_as_trades, _sell_unstreamed


async def test_trades_beyond_the_page_cap_are_read_at_the_next_passes(
    tmp_path: Path, monkeypatch
) -> None:
    # One trade a page, two pages a read: the pair's two buys fill the first read, the two
    # hand sales come after them (four trades: more than one read holds).
    async with demo_clob() as (server, keys):
        server.page_size = 1
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            venue = node.venues["polymarket"]
            venue.max_pages = 2
            cash_before = node.portfolio.book("polymarket").total("PUSD")
            await asyncio.sleep(1.1)  # the CLOB dates trades to the second
            await _sell_unstreamed(server, keys, monkeypatch)
            account = server.accounts[keys["address"].lower()]
            assert len(server.trades[account.account_id]) > venue.max_pages * server.page_size

            sync, found = await synced(node)
            said = sync.waiting["polymarket"]
            # before: "its trades could not be read: ... TOO_MANY_PAGES", at every pass
            assert "the rest at the next pass" in said and "TOO_MANY_PAGES" not in said, said
            waits = [said]
            for _ in range(5):  # the rest read, booked, then the balances compared with them
                sync, found = await synced(node, sync)
                if not sync.waiting:
                    break
                waits.append(sync.waiting["polymarket"])
            assert sync.waiting == {} and found == [], (sync.waiting, waits)
            assert any("booked as fills" in w for w in waits), waits
            _booked_as_trades(node)
            assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10
