"""Kalshi reports one signed position per market; contracts a resting sell locks are held beside
it (never netted while locked): the balance check reads both sides, and a cancel that frees
them is netted by the venue and booked by the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_node_support import (
    NO,
    TICKER,
    YES,
    buy,
    kalshi_node,
    paper_kalshi,
    started_kalshi_node,
)
from rigs import killed_child
from running_support import running
from test_kalshi_netting import _yes_held_by_a_resting_sell_then_no
from tradeguard.config import Config
from tradeguard.execution.ledger_audit import audit_storage
from tradeguard.execution.outcome_netting import netting_id, with_journal_locks
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.model.outcome import Outcome, kalshi_fee, split_signed_position
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import kalshi_keys
from tradeguard.storage.settlement_log import load_settlements
from tradeguard.venues.kalshi.client import KalshiClient

D = Decimal


def test_a_signed_position_splits_into_the_locked_contracts_and_the_free_side():
    # 10 YES locked by a sell and 10 NO free: the venue reports 0
    assert split_signed_position(D(0), D(10), D(0)) == (D(10), D(10))
    # 10 YES locked, 4 more YES free: +14
    assert split_signed_position(D(14), D(10), D(0)) == (D(14), D(0))
    # 10 YES locked, 3 NO locked, 5 NO free: 10 - 8 = 2
    assert split_signed_position(D(2), D(10), D(3)) == (D(10), D(8))
    # nothing locked: the sign names the side
    assert split_signed_position(D(-7), D(0), D(0)) == (D(0), D(7))


async def _ioc(client: KalshiClient, side: str, action: str, count: str, price: str) -> None:
    """An immediate-or-cancel order of `count` contracts of `side` at `price` dollars."""
    await client.create_order({
        "ticker": TICKER, "side": side, "action": action, "count_fp": f"{D(count):.2f}",
        f"{side}_price_dollars": f"{D(price):.4f}", "time_in_force": "immediate_or_cancel",
    })  # fmt: skip


async def _buy_yes_from_another_account(server, price: Decimal, count: Decimal) -> None:
    """A second account buys `count` YES at up to `price` (the house's cheaper asks first)."""
    keys = kalshi_keys(None, save=False)
    pem = keys["private_key_pem"]
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    key_id = server.add_account(key.public_key(), D(100_000))
    client = KalshiClient(server.rest_url, key_id, pem)
    try:
        await _ioc(client, "yes", "buy", str(count), str(price))
    finally:
        await client.close()


async def test_a_resting_sell_with_both_sides_held_then_filled_keeps_the_ledger_equal_to_the_venue(
    tmp_path: Path, monkeypatch
):
    server, cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    async with running(cfg) as node:
        venue = node.venues["kalshi"]
        sell = await _yes_held_by_a_resting_sell_then_no(node, venue)
        acct = server.account_of(keys["key_id"])
        # the venue reports 10 - 10 = 0; the sell's 10 YES are held beside the 10 NO
        listed = {b.asset: b for b in await venue.fetch_balances()}
        assert (listed[f"{TICKER}:YES"].locked, listed[f"{TICKER}:YES"].free) == (10, 0)
        assert listed[f"{TICKER}:NO"].total == 10
        # a listing that shows no lock (only the signed 0) is read with the journal's sell
        bare = [b for b in listed.values() if b.asset == "USD"]
        relocked = {b.asset: b for b in with_journal_locks(node.orders, "kalshi", bare)}
        assert relocked[f"{TICKER}:YES"].locked == 10 and relocked[f"{TICKER}:NO"].total == 10
        report = await reconcile_and_gate(node)
        assert report.ok and report.balance_adjustments == [], report.to_json()
        book = node.portfolio.book("kalshi")
        assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (10, 10)

        assert sell.order is not None and sell.order.price is not None
        asks = (await venue.fetch_quote(YES)).asks
        cheaper = sum((size for price, size in asks if price < sell.order.price), D(0))
        await _buy_yes_from_another_account(server, sell.order.price, cheaper + 10)
        assert acct.tokens[(TICKER, Outcome.YES)] == 0 and acct.tokens[(TICKER, Outcome.NO)] == 10
        report = await reconcile_and_gate(node)  # catches the maker fill up, then compares
        assert report.ok and report.balance_adjustments == [], report.to_json()
        assert sell.order.status is OrderStatus.FILLED
        assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (0, 10)
        assert book.total("USD") == acct.cash
        assert not [o for o in node.orders.orders.values() if o.client_order_id.startswith("net")]

    try:
        async with _restarted_clean(cfg) as node:
            book = node.portfolio.book("kalshi")
            assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (0, 10)
            assert book.total("USD") == server.account_of(keys["key_id"]).cash
    finally:
        await server.stop()


async def test_a_cancel_freeing_both_sides_is_netted_by_the_venue_and_booked_by_the_ledger(
    tmp_path: Path, monkeypatch
):
    server, cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    async with running(cfg) as node:
        venue = node.venues["kalshi"]
        sell = await _yes_held_by_a_resting_sell_then_no(node, venue)
        acct = server.account_of(keys["key_id"])
        cash_before = acct.cash
        assert sell.order is not None
        await node.orders.cancel(sell.order.client_order_id)
        # one signed position: 10 free YES and 10 free NO are 10 USD at once
        assert acct.tokens[(TICKER, Outcome.YES)] == 0 and acct.tokens[(TICKER, Outcome.NO)] == 0
        assert acct.cash == cash_before + 10
        book = node.portfolio.book("kalshi")
        assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (0, 0)
        assert book.total("USD") == acct.cash
        nets = [o for o in node.orders.orders.values() if o.client_order_id.startswith("net")]
        assert sorted(o.symbol for o in nets) == [NO, YES]
        assert all(o.filled == 10 for o in nets)
        rows = load_settlements(node.storage, kind=EventKind.NETTING)
        assert len(rows) == 2 and sum(D(r["cash"]) for r in rows) == 10
        report = await reconcile_and_gate(node)
        assert report.ok and report.balance_adjustments == [], report.to_json()

    try:
        async with _restarted_clean(cfg):
            pass
    finally:
        await server.stop()


async def test_a_sells_cancel_nets_from_its_markets_fills_not_the_venues_whole_table(
    tmp_path: Path, monkeypatch
):
    # trades on other markets fill the table; the cancel reads the fills of its market only
    # and books the netting the whole-table read would (ids from the market's last fill)
    async with started_kalshi_node(tmp_path, monkeypatch) as (server, node, keys):
        venue = node.venues["kalshi"]
        for ticker in ("KXBTC-26DEC-T100K", "KXRAIN-NYC-MON"):
            other = f"{ticker}:YES/USD"
            await buy(node, other, "5", str((await venue.fetch_quote(other)).ask))
        sell = await _yes_held_by_a_resting_sell_then_no(node, venue)
        assert sell.order is not None
        reads: list[dict[str, object]] = []
        load = node.storage.load_fills

        def counted(**kw):
            rows = load(**kw)
            reads.append({**kw, "rows": len(rows)})
            return rows

        monkeypatch.setattr(node.storage, "load_fills", counted)
        await node.orders.cancel(sell.order.client_order_id)
        monkeypatch.undo()
        assert reads and all(set(r.get("symbol") or ()) <= {YES, NO} for r in reads), reads
        market_fills = load(venue="kalshi", symbol=(YES, NO))
        assert sum(int(str(r["rows"])) for r in reads) <= len(market_fills)
        assert len(load(venue="kalshi")) > len(market_fills)
        # the same figures: 10 pairs at the last fill's prices, under the whole-table seed
        whole = [f for f in load(venue="kalshi") if f.symbol in (YES, NO)]  # as the cancel found it
        last = [f for f in whole if not f.trade_id.startswith("net-")][-1]
        nets = {
            o.symbol: o for o in node.orders.orders.values() if o.client_order_id.startswith("net")
        }
        assert {s: (o.filled, o.price) for s, o in nets.items()} == {
            NO: (10, last.price),
            YES: (10, 1 - last.price),
        }
        [seed] = {o.signal["netting"] for o in nets.values()}
        assert seed == f"{last.trade_id}|{seed.split('|')[1]}" and D(seed.split("|")[1]) == 10
        assert {o.client_order_id for o in nets.values()} == {
            netting_id("kalshi", seed, outcome, "s1") for outcome in Outcome
        }
        acct = server.account_of(keys["key_id"])
        assert node.portfolio.book("kalshi").total("USD") == acct.cash
        report = await reconcile_and_gate(node)
        assert report.ok and report.balance_adjustments == [], report.to_json()


async def _paper_netted(node: TradingNode) -> None:
    """The paper venue and the ledger agree: no FED contract held, the same USD."""
    book = node.portfolio.book("kpaper")
    venue = {b.asset: b.total for b in await node.venues["kpaper"].fetch_balances()}
    assert venue.get("FED:YES", D(0)) == book.total("FED:YES") == 0
    assert venue.get("FED:NO", D(0)) == book.total("FED:NO") == 0
    assert venue["USD"] == book.total("USD")


@asynccontextmanager
async def _restarted_clean(cfg: Config) -> AsyncIterator[TradingNode]:
    """A node started again on `cfg`: its start-up reconciliation found nothing to correct and
    the ledger audit passes."""
    async with running(cfg) as node:
        report = node.storage.kv_get("reconcile.report")
        assert report["ok"] and report["ledger_differences"] == [], report
        assert report["balance_adjustments"] == [], report
        audit = audit_storage(node.storage, balance_only=node.orders.balance_only)
        assert audit.ok, audit.describe()
        yield node


async def test_paper_kalshi_nets_the_contracts_a_cancelled_sell_frees_as_the_ledger_does(tmp_path):
    async with running(paper_kalshi(tmp_path)) as node:
        now = node.clock.now_ms()
        await node.on_quote(Quote("FED:YES/USD", now, D("0.44"), D(500), D("0.46"), D(500)))
        await node.on_quote(Quote("FED:NO/USD", now, D("0.54"), D(500), D("0.56"), D(500)))
        steps = (
            ("FED:YES/USD", Side.BUY, "0.46", OrderStatus.FILLED),
            ("FED:YES/USD", Side.SELL, "0.48", OrderStatus.ACCEPTED),  # rests, holding the YES
            ("FED:NO/USD", Side.BUY, "0.56", OrderStatus.FILLED),
        )
        orders = []
        for symbol, side, price, status in steps:
            intent = OrderIntent("s1", "kpaper", symbol, side, D(10), OrderType.LIMIT, D(price))
            result = await node.submit(intent)
            assert result.order is not None and result.order.status is status, result
            orders.append(result.order)
        paper = node.venues["kpaper"]
        book = node.portfolio.book("kpaper")
        venue = {b.asset: b.total for b in await paper.fetch_balances()}
        assert venue["FED:YES"] == book.total("FED:YES") == 10  # locked: not netted
        assert venue["FED:NO"] == book.total("FED:NO") == 10
        await node.orders.cancel(orders[1].client_order_id)
        await _paper_netted(node)
        report = await reconcile_and_gate(node, "periodic")
        assert report.ok and report.balance_adjustments == [], report.to_json()
        assert audit_storage(node.storage, balance_only=node.orders.balance_only).ok


async def test_a_partly_filled_ioc_sell_unlocks_its_rest_once_and_nets_only_what_is_held():
    # an IOC sell of 150 YES against 100 bid: 50 left unfilled are unlocked once (a second
    # release made the lock negative, and later netting counted contracts never held)
    from pm_support import seeded_kalshi
    from tradeguard.sandbox.kalshi.server import KalshiExchange

    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex, cash="1000")
        acct = ex.account_of(key_id)
        acct.tokens[(TICKER, Outcome.YES)] = D(150)
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            await _ioc(client, "yes", "sell", "150", "0.40")
            assert acct.tokens[(TICKER, Outcome.YES)] == 50
            assert acct.locked_tokens.get((TICKER, Outcome.YES), D(0)) == 0
            # 20 NO bought (from a new YES bid): 20 pairs of the 50 YES held are netted, no more
            ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[])
            cash = acct.cash
            await _ioc(client, "no", "buy", "20", "0.55")
            assert acct.tokens[(TICKER, Outcome.YES)] == 30
            assert acct.tokens[(TICKER, Outcome.NO)] == 0
            fee = kalshi_fee(D(20), D("0.55"))
            assert acct.cash == cash - 20 * D("0.55") - fee + 20  # the 20 pairs paid 1 each
        finally:
            await client.close()


async def test_an_ioc_sell_filled_by_two_resting_bids_unlocks_its_rest_once():
    # 200 YES sold IOC into two bids (100 and 50): 150 trade, 50 are left and unlocked once; a
    # release per trade made the lock -50, and the next NO bought netted 60 pairs of 50 YES
    from pm_support import seeded_kalshi
    from tradeguard.sandbox.kalshi.server import KalshiExchange

    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex, cash="1000")  # a house YES bid of 100 at 0.45
        ex.seed_book(TICKER, yes_bids=[("0.44", "50")], yes_asks=[])
        acct = ex.account_of(key_id)
        acct.tokens[(TICKER, Outcome.YES)] = D(200)
        client = KalshiClient(ex.rest_url, key_id, pem)
        try:
            await _ioc(client, "yes", "sell", "200", "0.40")
            assert acct.tokens[(TICKER, Outcome.YES)] == 50
            assert acct.locked_tokens.get((TICKER, Outcome.YES), D(0)) == 0
            ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[])
            await _ioc(client, "no", "buy", "60", "0.55")
            # 50 pairs netted: the 50 YES held and 50 of the 60 NO, 10 NO left
            assert acct.tokens[(TICKER, Outcome.YES)] == 0
            assert acct.tokens[(TICKER, Outcome.NO)] == 10
        finally:
            await client.close()


@pytest.mark.parametrize("mode", ["after_cancel", "in_netting"])
async def test_a_kill_between_a_sells_cancel_and_its_netting_comes_back_netted_at_start(
    tmp_path: Path, monkeypatch, mode: str
):
    server, cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    try:
        child = Path(__file__).with_name("netting_cancel_crash_child.py")
        docs = await killed_child(child, tmp_path, cfg, mode, timeout_s=120)
        assert docs[-1] == {"killed": mode.replace("_", " ")}
        sell_id = next(d["sell"] for d in docs if "sell" in d)
        acct = server.account_of(keys["key_id"])
        # the venue cancelled the sell and paid the 10 free pairs at once
        assert acct.tokens[(TICKER, Outcome.YES)] == 0 and acct.tokens[(TICKER, Outcome.NO)] == 0
        stored = TradingNode(cfg)
        try:
            journaled = stored.storage.get_order(sell_id)
            assert journaled is not None
            ended = journaled.status is OrderStatus.CANCELLED
            assert ended == (mode == "in_netting")  # committed before the kill, or not at all
        finally:
            stored.close()
        async with _restarted_clean(cfg) as node:
            ended_order = node.storage.get_order(sell_id)
            assert ended_order is not None and ended_order.status is OrderStatus.CANCELLED
            book = node.portfolio.book("kalshi")
            assert (book.total(f"{TICKER}:YES"), book.total(f"{TICKER}:NO")) == (0, 0)
            assert book.total("USD") == acct.cash
            assert node.portfolio.position("kalshi", YES, "s1").quantity == 0
            assert node.portfolio.position("kalshi", NO, "s1").quantity == 0
            rows = load_settlements(node.storage, kind=EventKind.NETTING)
            assert len(rows) == 2 and sum(D(r["cash"]) for r in rows) == 10
    finally:
        await server.stop()


async def test_a_paper_kalshi_killed_between_a_sells_cancel_and_its_netting_resumes_netted(
    tmp_path: Path,
):
    cfg = paper_kalshi(tmp_path)
    child = Path(__file__).with_name("paper_netting_cancel_crash_child.py")
    docs = await killed_child(child, tmp_path, cfg, timeout_s=120)
    assert docs[-1] == {"killed": "in netting"}
    async with _restarted_clean(cfg) as node:
        await _paper_netted(node)
