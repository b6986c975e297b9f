"""One `/data/trades` listing of a market per reconciliation pass serves both its outcomes.

The trades are listed by market (a maker's complementary side is listed under the other
outcome's token), so YES and NO each paging the same listing, each twice (the catch-up asks
again from the newest trade read), and a read off the ledger repeating the catch-up, made the
market's listing several times over. Within a pass (`PolymarketVenue.listing_pass`) the
market's listing is read once; the account's listing `traded_symbols` reads serves each market
it names. A read off the ledger lists again (a trade made meanwhile is in the figures): one
more pass. Counted against the local CLOB."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from pm_merge_support import POLY_NO, buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import Side

D = Decimal


def _trade_listings(server) -> list[dict]:
    return [c for c in server.requests if c["path"] == "/data/trades"]


async def test_a_reconciliation_lists_the_pair_s_market_once_per_pass(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            await buy(node, POLY_NO)
            assert {f.symbol for f in node.storage.load_fills(venue="polymarket")} == {
                POLY_YES, POLY_NO,
            }  # fmt: skip
            server.requests.clear()
            report = await reconcile_and_gate(node)
            assert report.ok and report.balance_adjustments == []
            listed = _trade_listings(server)
            # the account's listing since the checkpoint serves the market's catch-up too
            assert len(listed) == 1, listed
            assert "market" not in listed[0]["query"]

            # a read off the ledger (cash taken by hand) lists again, once
            server.accounts[keys["address"].lower()].cash -= D(1)
            server.requests.clear()
            report = await reconcile_and_gate(node)
            assert [a["asset"] for a in report.balance_adjustments] == ["PUSD"]
            assert len(_trade_listings(server)) == 2, _trade_listings(server)


async def test_a_trade_made_between_two_passes_is_read_by_the_second(tmp_path, monkeypatch) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            venue = node.venues["polymarket"]
            with venue.listing_pass():
                first = await venue.fetch_fills(POLY_YES)
                await buy(node, POLY_YES)  # its own read after the submit: not the pass's
                assert len(node.storage.load_fills(venue="polymarket", symbol=POLY_YES)) == 2
                assert await venue.fetch_fills(POLY_YES) == first  # the pass's listing
            assert len(await venue.fetch_fills(POLY_YES)) == 2
            assert [(f.symbol, f.side, f.amount) for f in first] == [(POLY_YES, Side.BUY, D(10))]


async def test_a_task_started_within_a_pass_lists_anew(tmp_path, monkeypatch) -> None:
    """A task a pass's read starts (a fill booked by the catch-up sets an exit's follow-up
    going) inherits the pass's context: its reads, during the pass or after it, list anew,
    never the pass's listing, which predates its orders."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            venue = node.venues["polymarket"]
            bought, ended = asyncio.Event(), asyncio.Event()

            async def follow_up() -> tuple[int, int]:
                await bought.wait()
                during = len(await venue.fetch_fills(POLY_YES))
                await ended.wait()
                return during, len(await venue.fetch_fills(POLY_YES))

            with venue.listing_pass():
                assert len(await venue.fetch_fills(POLY_YES)) == 1
                task = asyncio.create_task(follow_up())
                await buy(node, POLY_YES)
                bought.set()
                await asyncio.sleep(0.2)
                assert not task.done() and len(await venue.fetch_fills(POLY_YES)) == 1
            ended.set()
            assert await task == (2, 2)
