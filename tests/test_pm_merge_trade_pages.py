"""The merge check reads the account's trades (`/data/trades`) page by page; a listing longer
than the venue's page cap (`max_pages`) must not stop the venue's pass for good: what was read
is booked, the rest is read from where the read stopped at the next pass, and the sales by
hand end up booked as trades, never a merge nor adjustments.

The local CLOB and the official py-clob-client (the "hand") on the node's own account."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from pm_merge_support import MARKET, POLY_NO, buy, demo_clob, held, holding_a_pair, synced
from test_pm_merge_hand_sales import _sell_unstreamed
from test_pm_node_crash import POLY_YES


async def test_trades_beyond_the_page_cap_are_read_at_the_next_passes(
    tmp_path: Path, monkeypatch
) -> None:
    # One trade a page, two pages a read, each outcome's trades read alone, newest first: the
    # pair's buy, the sale by hand, then two buys of the node (known) fill the first read of
    # each outcome; the sales come after them (four trades an outcome: more than a read holds).
    async with demo_clob() as (server, keys):
        server.page_size = 1
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            venue = node.venues["polymarket"]
            venue.max_pages = 2
            await asyncio.sleep(1.1)  # the CLOB dates trades to the second
            await _sell_unstreamed(server, keys, monkeypatch)
            server.seed_book(MARKET, yes_bids=[("0.40", "10")], yes_asks=[("0.45", "10")])
            for _ in range(2):
                await buy(node, POLY_YES, Decimal(5))
                await buy(node, POLY_NO, Decimal(5))
            account = server.accounts[keys["address"].lower()]
            yes_token = venue.token_id(POLY_YES)
            yes_trades = [
                t for t in server.trades[account.account_id] if t["asset_id"] == yes_token
            ]
            assert len(yes_trades) > venue.max_pages * server.page_size

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
            fills = node.storage.load_fills(venue="polymarket")
            assert not [f for f in fills if f.trade_id.startswith("net-")], waits  # no merge
            assert node.storage.load_balance_adjustments("polymarket") == []
            assert held(node)[(POLY_YES, "s1")] == 20 and held(node)[(POLY_NO, "s1")] == 20
            assert held(node)[(POLY_YES, "")] == -10 and held(node)[(POLY_NO, "")] == -10


async def test_a_part_whose_commit_failed_is_read_again_never_left_to_a_merge(
    tmp_path: Path, monkeypatch
) -> None:
    # Two trades a page, one page a read: the pair's buys, then the two hand sales (summing
    # to the pairs: a merge's shape in the balances), then two buys the node booked. The
    # commit of the hand sales fails: what that read saw is booked nowhere, so the next read
    # must not go on past it (before: it went on to the last page, found nothing the ledger
    # lacks and booked the hand sales as a merge of the strategy's pair).
    async with demo_clob() as (server, keys):
        server.page_size = 2
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            node.venues["polymarket"].max_pages = 1
            await asyncio.sleep(1.1)  # the CLOB dates trades to the second
            await _sell_unstreamed(server, keys, monkeypatch)
            server.seed_book(MARKET, yes_bids=[("0.40", "10")], yes_asks=[("0.45", "10")])
            await buy(node, POLY_YES, Decimal(5))
            await buy(node, POLY_NO, Decimal(5))
            account = server.accounts[keys["address"].lower()]
            assert len(server.trades[account.account_id]) == 6

            sync, _ = await synced(node)  # the buys' page: known, the rest at the next pass
            assert "the rest at the next pass" in sync.waiting["polymarket"], sync.waiting
            failing = [True]

            def commit_fails_once_sales_are_in() -> None:
                fills = node.storage.load_fills(venue="polymarket")  # in the commit's own
                if failing[0] and any(f.side.value == "sell" for f in fills):
                    failing[0] = False
                    raise OSError("disk full")

            node.storage.add_commit_hook(commit_fails_once_sales_are_in)
            with pytest.raises(OSError, match="disk full"):
                await synced(node, sync)
            waits = []
            for _ in range(6):
                sync, found = await synced(node, sync)
                if not sync.waiting:
                    break
                waits.append(sync.waiting["polymarket"])
            assert sync.waiting == {} and found == [], (sync.waiting, waits)
            fills = node.storage.load_fills(venue="polymarket")
            assert not [f for f in fills if f.trade_id.startswith("net-")], waits  # no merge
            assert held(node)[(POLY_YES, "s1")] == 15 and held(node)[(POLY_NO, "s1")] == 15
            assert held(node)[(POLY_YES, "")] == -10 and held(node)[(POLY_NO, "")] == -10
            assert node.storage.load_balance_adjustments("polymarket") == []


async def _passes_until_settled(node, sync) -> list[str]:
    waits = []
    for _ in range(8):
        sync, found = await synced(node, sync)
        if not sync.waiting:
            assert found == [], found
            return waits
        waits.append(sync.waiting["polymarket"])
    raise AssertionError(waits)


async def test_sales_made_between_two_parts_of_one_read_are_booked_not_a_merge(
    tmp_path: Path, monkeypatch
) -> None:
    # One trade a page, one page a read, the CLOB listing the newest first. The strategy holds
    # 20 of each outcome; a pair sold by hand is read (its newest page) and booked, the round
    # going on from its cursor. A second pair is sold by hand: it lands before that cursor.
    # Before, the round went on past the first sales and the buys to the listing's end, found
    # nothing the ledger lacks and booked the second sales' drop as a merge of the pair.
    async with demo_clob() as (server, keys):
        server.page_size = 1
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            node.venues["polymarket"].max_pages = 1
            server.seed_book(MARKET, yes_bids=[("0.40", "10")], yes_asks=[("0.45", "10")])
            await buy(node, POLY_YES, Decimal(10))
            await buy(node, POLY_NO, Decimal(10))
            await asyncio.sleep(1.1)  # the CLOB dates trades to the second
            await _sell_unstreamed(server, keys, monkeypatch)
            sync, _ = await synced(node)
            assert "booked as fills" in sync.waiting["polymarket"], sync.waiting
            await _passes_until_settled(node, sync)
            await _sell_unstreamed(server, keys, monkeypatch)  # the round's cursor is old now
            await _passes_until_settled(node, sync)
            fills = node.storage.load_fills(venue="polymarket")
            assert not [f for f in fills if f.trade_id.startswith("net-")]  # no merge
            assert node.storage.load_balance_adjustments("polymarket") == []
            assert held(node)[(POLY_YES, "s1")] == 20 and held(node)[(POLY_NO, "s1")] == 20
            assert held(node)[(POLY_YES, "")] == -20 and held(node)[(POLY_NO, "")] == -20
