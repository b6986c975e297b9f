"""Sales by hand of n YES and n NO whose proceeds sum to n look like a merge in the balances
(YES -n, NO -n, pUSD +n), but the CLOB reports them as the account's trades: the sync books
those trades as fills of no strategy (as any trade made on the venue outside the node), never
as a merge closing the strategy's pair.

The local CLOB and the official py-clob-client (the "hand") on the node's own account."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2

import pm_merge_support
from pm_merge_support import (
    MARKET,
    POLY_NO,
    config_after_a_pair,
    demo_clob,
    held,
    holding_a_pair,
    running,
    synced,
)
from rigs import killed_child
from test_pm_node_crash import POLY_YES, node_config
from tradeguard.config import Config
from tradeguard.execution.ledger_audit import START_TS_KEY
from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.pm_serve import token_id
from tradeguard.sandbox.polymarket import streams

D = Decimal


async def _sell_by_hand(client: ClobClient, outcome: str, price: str) -> None:
    answer = await asyncio.to_thread(
        client.create_and_post_order,
        OrderArgsV2(token_id=token_id(MARKET, outcome), price=float(price), size=10.0,
                    side="SELL"),
    )  # fmt: skip
    assert answer["success"] and answer["status"] == "matched", answer


async def _hand(server, keys) -> ClobClient:
    """The official client on the node's account, the market's fee set to 0 (so proceeds of
    10 x 0.45 + 10 x 0.55 are exactly 10)."""
    (cid,) = [c for c, m in server.markets.items() if m.slug == MARKET]
    server.markets[cid].fee_rate = D(0)
    client = ClobClient(server.url, chain_id=137, key=keys["private_key"])
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    return client


async def _sell_the_pair_by_hand(server, keys) -> None:
    client = await _hand(server, keys)
    server.seed_book(MARKET, yes_bids=[("0.45", "10")], yes_asks=[])
    await _sell_by_hand(client, "yes", "0.45")
    server.seed_book(MARKET, yes_bids=[], yes_asks=[("0.45", "10")])  # a NO bid at 0.55
    await _sell_by_hand(client, "no", "0.55")


def _on_database(url: str, tmp: Path, venue: dict) -> Config:
    cfg = node_config(tmp, venue)
    return cfg.model_copy(update={"node": cfg.node.model_copy(update={"database_url": url})})


async def _sell_unstreamed(server, keys, monkeypatch) -> None:
    """The hand sales, their trades missed by the node's user channel (only `/data/trades` and
    the balances show them)."""
    with monkeypatch.context() as m:
        m.setattr(streams, "publish_trades", lambda *_: None)
        await _sell_the_pair_by_hand(server, keys)


def _booked_as_trades(node) -> None:
    assert node.storage.load_balance_adjustments("polymarket") == []
    fills = node.storage.load_fills(venue="polymarket")
    sales = [f for f in fills if f.side.value == "sell"]
    # the CLOB's two trades: no merge's netting fills
    assert sorted((f.symbol, f.price, f.amount) for f in sales) == [
        (POLY_NO, D("0.55"), D(10)), (POLY_YES, D("0.45"), D(10)),
    ]  # fmt: skip
    assert not [f for f in fills if f.trade_id.startswith("net-")], fills
    # booked like any trade made outside the node: a position of no strategy; s1's pair is
    # not closed by guess
    assert held(node)[(POLY_YES, "s1")] == 10 and held(node)[(POLY_NO, "s1")] == 10
    assert held(node)[(POLY_YES, "")] == -10 and held(node)[(POLY_NO, "")] == -10


async def test_hand_sales_while_the_node_is_down_are_booked_as_trades_at_the_next_start(
    tmp_path: Path, monkeypatch
) -> None:
    # The pair was bought long before, no strategy symbol names its market and no recent
    # journal order does: the start's fill catch-up (since the last reconciliation, no
    # lookback) reads it as one the account traded since (`traded_symbols`); in the balances
    # alone the sales would look like a merge.
    async with demo_clob() as (server, keys):
        cfg = await config_after_a_pair(tmp_path, monkeypatch, server, keys)
        cfg = cfg.model_copy(update={
            "reconcile": cfg.reconcile.model_copy(update={"fills_lookback_s": 0.0}),
        })  # fmt: skip
        async with running(cfg) as node:  # a reconciliation after the buys
            cash_before = node.portfolio.book("polymarket").total("PUSD")
        await asyncio.sleep(0.01)
        await _sell_the_pair_by_hand(server, keys)
        async with running(cfg) as node:
            report = node.reconcile_report
            assert report.ok and report.ledger_differences == [], report.to_json()
            assert report.fills_recovered == 2, report.to_json()  # the two sales, counted
            sync, found = await synced(node)
            assert sync.waiting == {} and found == [], (sync.waiting, found)
            _booked_as_trades(node)
            assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10
        async with running(cfg) as node:  # booked once
            _booked_as_trades(node)


async def test_killed_between_the_two_hand_sales_at_start_books_both_at_the_next(
    tmp_path: Path, monkeypatch
) -> None:
    # The start's reconciliation books one sale and is killed before the other: one sale kept
    # alone (YES -10 and pUSD +4.50, or NO -10 and pUSD +5.50) is no merge's shape, a ledger
    # difference the next start halts on.
    async with demo_clob() as (server, keys):
        cfg = await config_after_a_pair(tmp_path, monkeypatch, server, keys)
        cfg = cfg.model_copy(update={
            "reconcile": cfg.reconcile.model_copy(update={"fills_lookback_s": 0.0}),
        })  # fmt: skip
        async with running(cfg):  # a reconciliation after the buys
            pass
        server.clock_offset_s += 1  # the CLOB dates trades to the second: a later one
        await _sell_the_pair_by_hand(server, keys)
        child = Path(__file__).with_name("pm_hand_sale_crash_child.py")
        docs = await killed_child(child, tmp_path, cfg, timeout_s=90)
        # booked by the start's catch-up (the market traded since the last reconciliation)
        assert "_catch_up_symbol" in docs[-1]["stack"], docs
        async with running(cfg) as node:
            report = node.reconcile_report
            assert report.ok and report.ledger_differences == [], report.to_json()
            sync, found = await synced(node)
            assert sync.waiting == {} and found == [], (sync.waiting, found)
            _booked_as_trades(node)


async def test_hand_sales_summing_to_the_pairs_are_booked_as_trades_not_a_merge(
    tmp_path: Path, monkeypatch
) -> None:
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        cash_before = node.portfolio.book("polymarket").total("PUSD")
        # the CLOB dates trades to the second: its clock a second on, later than the ledger's
        # opening
        server.clock_offset_s += 1
        # the user channel misses them (as it booked them, the sync would see no drop at all)
        await _sell_unstreamed(server, keys, monkeypatch)
        (cid,) = [c for c, m in server.markets.items() if m.slug == MARKET]
        account = server.accounts[keys["address"].lower()]
        assert account.position(cid) == (0, 0) and account.cash == cash_before + 10

        sync, found = await synced(node)
        assert "booked as fills, not a merge" in sync.waiting["polymarket"], sync.waiting
        sync, found = await synced(node, sync)  # the pass after the trades are booked
        assert sync.waiting == {} and found == [], (sync.waiting, found)
        assert node.storage.load_balance_adjustments("polymarket") == []
        fills = node.storage.load_fills(venue="polymarket")
        sales = [f for f in fills if f.side.value == "sell"]
        # the CLOB's two trades, by their trade ids: no merge's netting fills
        assert sorted((f.symbol, f.price, f.amount) for f in sales) == [
            (POLY_NO, D("0.55"), D(10)), (POLY_YES, D("0.45"), D(10)),
        ]  # fmt: skip
        assert not [f for f in fills if f.trade_id.startswith("net-")], fills
        # booked like any trade made outside the node: a position of no strategy; s1's pair
        # is not closed by guess
        assert held(node)[(POLY_YES, "s1")] == 10 and held(node)[(POLY_NO, "s1")] == 10
        assert held(node)[(POLY_YES, "")] == -10 and held(node)[(POLY_NO, "")] == -10
        assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_a_trade_read_failing_half_way_books_neither_sale_nor_an_adjustment(
    tmp_path: Path, monkeypatch, request, db: str
) -> None:
    if db == "postgresql":  # the sales' one commit, on both databases
        url = request.getfixturevalue("pg_url")
        monkeypatch.setattr(pm_merge_support, "node_config", partial(_on_database, url))
    # The NO trades' read fails after the YES trades were read: booking the YES sale alone
    # would leave NO -10 and pUSD +5.50 in the balances, no merge's shape, so the next pass
    # would book the NO sale as adjustments (a trade read as a withdrawal and a deposit).
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        assert node.config.node.database_url.startswith(db)
        cash_before = node.portfolio.book("polymarket").total("PUSD")
        # the CLOB dates trades to the second: its clock a second on, later than the ledger's
        # opening
        server.clock_offset_s += 1
        await _sell_unstreamed(server, keys, monkeypatch)
        venue = node.venues["polymarket"]
        real = venue.fetch_fills_part  # the merge check's read of the venue's trades
        reads: list[str] = []

        async def failing_on_no(symbol: str) -> tuple[list, bool]:
            reads.append(symbol)
            if symbol == POLY_NO and reads.count(POLY_NO) == 1:  # its answer lost
                raise AmbiguousVenueError("polymarket", "fetch_fills: 503 service unavailable")
            return await real(symbol)

        monkeypatch.setattr(venue, "fetch_fills_part", failing_on_no)
        sync, found = await synced(node)
        assert "its trades could not be read" in sync.waiting["polymarket"], sync.waiting
        sales = [f for f in node.storage.load_fills(venue="polymarket") if f.side.value == "sell"]
        assert sales == [], sales
        for _ in range(3):  # the sales booked, then the balances compared with them
            sync, found = await synced(node, sync)
            if not sync.waiting:
                break
        assert sync.waiting == {} and found == [], (sync.waiting, found)
        _booked_as_trades(node)
        assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10


async def _two_passes_book_the_sales(node, cash_before) -> None:
    """The first pass books the hand sales as fills and waits; the next finds nothing left."""
    sync, found = await synced(node)
    assert "booked as fills, not a merge" in sync.waiting["polymarket"], sync.waiting
    sync, found = await synced(node, sync)
    assert sync.waiting == {} and found == [], (sync.waiting, found)
    _booked_as_trades(node)
    assert node.portfolio.book("polymarket").total("PUSD") == cash_before + 10


async def test_hand_sales_past_the_first_trades_page_are_booked_as_trades_not_a_merge(
    tmp_path: Path, monkeypatch
) -> None:
    # A busy account: the CLOB answers `/data/trades` one trade a page. The pair's two buys
    # fill the first pages; the hand sales come after them, on pages a single read never sees.
    async with demo_clob() as (server, keys):
        server.page_size = 1
        async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
            cash_before = node.portfolio.book("polymarket").total("PUSD")
            server.clock_offset_s += 1  # the CLOB dates trades to the second: a later one
            await _sell_unstreamed(server, keys, monkeypatch)
            await _two_passes_book_the_sales(node, cash_before)


async def test_hand_sales_in_the_second_the_ledger_opened_are_booked_as_trades(
    tmp_path: Path, monkeypatch
) -> None:
    # The CLOB dates a trade to the second, the ledger's opening is in ms: sales stamped with
    # the second the ledger opened in may have come after it; never read as a merge by guess.
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        cash_before = node.portfolio.book("polymarket").total("PUSD")
        await _sell_unstreamed(server, keys, monkeypatch)
        account = server.accounts[keys["address"].lower()]
        second = max(int(r["match_time"]) for r in server.trades[account.account_id])
        # the ledger opened half way through the sales' second
        node.storage.kv_set(START_TS_KEY, {"polymarket": second * 1000 + 500})
        await _two_passes_book_the_sales(node, cash_before)


async def test_hand_sales_whose_commit_fails_reach_no_fill_listener(
    tmp_path: Path, monkeypatch
) -> None:
    # The sales' one commit fails: the database keeps none of them, so no listener (a
    # strategy, the bots' exits, the API's push) may have been told of them.
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        server.clock_offset_s += 1  # the CLOB dates trades to the second: a later one
        await _sell_unstreamed(server, keys, monkeypatch)
        told: list[str] = []
        node.orders.fill_listeners.append(lambda fill, _order: told.append(fill.trade_id))
        failing = [True]

        def commit_fails_once_sales_are_in() -> None:
            fills = node.storage.load_fills(venue="polymarket")  # read in the commit's own
            if failing[0] and any(f.side.value == "sell" for f in fills):
                failing[0] = False
                raise OSError("disk full")

        node.storage.add_commit_hook(commit_fails_once_sales_are_in)
        with pytest.raises(OSError, match="disk full"):
            await synced(node)
        stored = [f for f in node.storage.load_fills(venue="polymarket") if f.side.value == "sell"]
        assert stored == [] and told == [], (stored, told)


async def test_hand_sales_whose_commit_fails_leave_the_ledger_as_the_database_has_it(
    tmp_path: Path, monkeypatch
) -> None:
    # The sales' one commit fails: the database keeps none of them, and neither may the
    # in-memory ledger, or the next pass books them again over it (10 PUSD counted twice).
    async with (
        demo_clob() as (server, keys),
        holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _),
    ):
        book = node.portfolio.book("polymarket")
        cash_before = book.total("PUSD")
        held_before = {a: book.total(a) for a in book.assets()}
        server.clock_offset_s += 1  # the CLOB dates trades to the second: a later one
        await _sell_unstreamed(server, keys, monkeypatch)
        failing = [True]

        def commit_fails_once_sales_are_in() -> None:
            fills = node.storage.load_fills(venue="polymarket")  # read in the commit's own
            if failing[0] and any(f.side.value == "sell" for f in fills):
                failing[0] = False
                raise OSError("disk full")

        node.storage.add_commit_hook(commit_fails_once_sales_are_in)
        with pytest.raises(OSError, match="disk full"):
            await synced(node)
        assert book.total("PUSD") == cash_before, book.total("PUSD")
        assert {a: book.total(a) for a in held_before} == held_before
        await _two_passes_book_the_sales(node, cash_before)
