"""A Polymarket trade booked while still pending (RETRYING: its transaction failed and is
resubmitted) is followed across a stop: when it FAILS while the node is down and its match is
older than what the start-up listing reads, the start still reads it (by its id), flags it and
takes the venue's balances, instead of a ledger difference that halts the node."""

from __future__ import annotations

from decimal import Decimal

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from test_pm_whole_second_catch_up import _checkpoint_at
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus, OrderType, Side, TradingState
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode


async def _sell(node: TradingNode, symbol: str, quantity: Decimal) -> None:
    """A limit sale at the bid for strategy s1; asserts it filled."""
    quote = await node.venues["polymarket"].fetch_quote(symbol)
    await node.on_quote(quote)
    placed = await node.submit(OrderIntent(
        "s1", "polymarket", symbol, Side.SELL, quantity, OrderType.LIMIT, quote.bid,
    ))  # fmt: skip
    assert placed.order is not None and placed.order.status is OrderStatus.FILLED, placed


async def test_a_trade_pending_before_the_stop_that_failed_meanwhile_is_flagged_at_start(
    tmp_path, monkeypatch
) -> None:
    base = POLY_YES.split("/")[0]
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        cfg.reconcile = cfg.reconcile.model_copy(update={"fills_lookback_s": 0.0})
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            cash = node.portfolio.book("polymarket").total("PUSD")
            await _sell(node, POLY_YES, Decimal(10))
            fills = node.storage.load_fills(venue="polymarket")
            (fill,) = [f for f in fills if f.side is Side.SELL]
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "RETRYING")
            report = await reconcile_and_gate(node)  # reads it RETRYING: still booked
            assert report.ok and report.fills_failed == [], report
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "FAILED")
        # the last reconciliation ran after the trade's second: its listing starts past it
        _checkpoint_at(cfg, (fill.ts // 1000 + 1) * 1000)
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert [f["trade_id"] for f in report["fills_failed"]] == [fill.trade_id], report
            assert report["ledger_differences"] == [] and report["ok"], report
            assert node.risk.state is not TradingState.HALTED
            book = node.portfolio.book("polymarket")
            assert book.total(base) == 10 and book.total("PUSD") == cash  # the sale never was
        async with running(cfg) as node:  # followed no more: the trade's end was read
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"] and report["fills_failed"] == [], report


def test_pending_trades_are_bounded_and_end_when_settled() -> None:
    from tradeguard.model.enums import LiquiditySide
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.pending import (
        PENDING_KEEP_MS,
        PENDING_KEPT,
        follow_pending,
    )

    def fill(ts: int) -> list[Fill]:
        return [Fill("polymarket", POLY_YES, "", "0xh", "t", Side.BUY, Decimal("0.5"),
                     Decimal(1), Decimal(0), "PUSD", LiquiditySide.TAKER, ts)]  # fmt: skip

    now = 10 * PENDING_KEEP_MS
    pending: dict[str, int] = {}
    follow_pending(
        pending, {"id": "old", "status": "MATCHED"}, fill(now - PENDING_KEEP_MS - 1), now
    )
    for n in range(PENDING_KEPT + 1):
        follow_pending(pending, {"id": f"t{n}", "status": "RETRYING"}, fill(now), now)
    assert len(pending) == PENDING_KEPT and "old" not in pending and "t0" not in pending
    follow_pending(pending, {"id": "t5", "status": "CONFIRMED"}, fill(now), now)
    assert "t5" not in pending and f"t{PENDING_KEPT}" in pending


async def test_many_pending_trades_at_start_are_each_read_within_the_call_timeout(
    tmp_path, monkeypatch
) -> None:
    """Forty trades pending at the stop, each read by id in well under the call timeout: the
    start reads them all (one venue call each), not as one call whose reads together outlast
    the timeout and halt the node at every start while they stay stored."""
    from tradeguard.execution.pending_trades import PENDING_KEY
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        cfg.reconcile = cfg.reconcile.model_copy(update={"call_timeout_s": 1.0, "call_attempts": 1})
        async with running(cfg) as node:
            started = node.clock.now_ms()
        db = Database(cfg.node.database_url)
        try:  # trades matched an hour before the last reconciliation, pending at the stop
            ids = {f"gone-{n}": started - 3_600_000 for n in range(40)}
            Storage(db).kv_set(PENDING_KEY, {"polymarket": ids})
        finally:
            db.dispose()
        server.faults.latency_ms_by_endpoint["/data/trades"] = 50  # 2 s for the forty
        async with running(cfg) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"], report
            assert node.risk.state is not TradingState.HALTED
            # the CLOB lists none of them: each was read and let go
            assert node.storage.kv_get(PENDING_KEY) == {"polymarket": {}}


async def test_a_pending_trade_read_settled_is_not_read_again_by_id(tmp_path, monkeypatch) -> None:
    """A trade stored pending at a stop and read CONFIRMED by the start's listing is followed
    no more: the stored ids are taken up before that listing, not put back over what it read
    (each one cost a read by id more, after it had settled)."""
    from tradeguard.execution.pending_trades import PENDING_KEY
    from tradeguard.execution.reconcile import CHECKPOINT_KEY

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            await buy(node, POLY_YES)
            await _sell(node, POLY_YES, Decimal(10))
            (fill,) = [
                f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL
            ]
            server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "RETRYING")
            assert (await reconcile_and_gate(node)).ok
            assert fill.trade_id in node.storage.kv_get(PENDING_KEY)["polymarket"]
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "CONFIRMED")
        async with running(cfg) as node:  # its listing reads the trade CONFIRMED
            assert node.storage.kv_get("reconcile.report")["ok"]
            # the next one lists from past the trade's second
            lookback = int(node.config.reconcile.fills_lookback_s * 1000)
            past = (fill.ts // 1000 + 1) * 1000 + lookback
            node.storage.kv_set(CHECKPOINT_KEY, {"polymarket": past})
            before = len(server.requests)
            assert (await reconcile_and_gate(node)).ok
            by_id = [r for r in list(server.requests)[before:] if r["query"].get("id")]
            assert by_id == []
            assert node.storage.kv_get(PENDING_KEY) == {"polymarket": {}}


async def test_a_pending_trade_the_user_channel_tells_settled_is_not_read_by_id(
    tmp_path, monkeypatch
) -> None:
    """Stored pending, then told CONFIRMED on the `user` channel while the node runs: a later
    reconciliation whose listing no longer reaches it does not put the stored id back and read
    it again by id."""
    import asyncio

    from tradeguard.execution.reconcile import CHECKPOINT_KEY

    async with (
        demo_clob() as (server, keys),
        running(pm_config(tmp_path, monkeypatch, server, keys)) as node,
    ):
        await buy(node, POLY_YES)
        await _sell(node, POLY_YES, Decimal(10))
        (fill,) = [f for f in node.storage.load_fills(venue="polymarket") if f.side is Side.SELL]
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "RETRYING")
        assert (await reconcile_and_gate(node)).ok  # stores it pending
        venue = node.venues["polymarket"]
        server.set_trade_status(fill.trade_id.rsplit("-", 1)[0], "CONFIRMED")
        async with asyncio.timeout(10):  # the channel's message ends it
            while fill.trade_id in venue.pending_trades:
                await asyncio.sleep(0.01)
        lookback = int(node.config.reconcile.fills_lookback_s * 1000)
        past = (fill.ts // 1000 + 1) * 1000 + lookback
        node.storage.kv_set(CHECKPOINT_KEY, {"polymarket": past})
        before = len(server.requests)
        assert (await reconcile_and_gate(node)).ok
        assert [r for r in list(server.requests)[before:] if r["query"].get("id")] == []


def test_a_pending_trade_with_a_huge_id_ends_when_read_failed() -> None:
    """A trade id longer than the 200 characters kept of it: read FAILED, its pending entry
    (kept under the cut id) ends too, instead of being stored and read again by the cut id."""
    from eth_account import Account

    from tradeguard.clock import Clock
    from tradeguard.model.enums import LiquiditySide
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.trade_rows import kept_fills
    from tradeguard.venues.polymarket.venue import PolymarketVenue

    venue = PolymarketVenue("polymarket", "http://127.0.0.1:9", Account.create().key.hex(), Clock())
    huge = "t" * 5000
    fill = Fill("polymarket", POLY_YES, "", "0xh", huge, Side.SELL, Decimal("0.5"), Decimal(1),
                Decimal(0), "PUSD", LiquiditySide.TAKER, venue.clock.now_ms())  # fmt: skip
    assert kept_fills(venue, {"id": huge, "status": "MATCHED"}, [fill]) == [fill]
    assert list(venue.pending_trades) == [huge[:200]]
    assert kept_fills(venue, {"id": huge, "status": "FAILED"}, [fill]) == []
    assert venue.pending_trades == {}
