"""A bad print on the local Binance-compatible exchange (real ccxt client) is held, not acted on.

The account is alice's: 1 BTC and 100,000 USDT, BTC/USDT around 50,000 (equity 150,000). One book
update at 50 would be a 33 % drawdown; it must leave the mark, the equity and the trading state
alone and deny orders on BTC/USDT until a second update settles it. A real crash, confirmed by a
second update near the first, still halts.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import RISK, sandbox_config, write_vault
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.checkpoint import MARK_GUARD_KEY
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal
BUY = OrderIntent(
    strategy_id="http", venue="binance", symbol="BTC/USDT", side=Side.BUY,
    amount=D("0.001"), type=OrderType.MARKET,
)  # fmt: skip


def _quoted(node: TradingNode, mid: str) -> bool:
    quote = node.market.quotes.get("BTC/USDT")
    return quote is not None and quote.mid == D(mid)


async def _book(node: TradingNode, ex, bid: str, ask: str) -> None:  # type: ignore[no-untyped-def]
    ex.set_book("BTCUSDT", bids=[(bid, "1")], asks=[(ask, "1")])
    mid = str((D(bid) + D(ask)) / 2)
    await eventually(lambda: _quoted(node, mid))


def _warnings(node: TradingNode, seen: list) -> list[str]:  # type: ignore[type-arg]
    return [e.data.get("warning", "") for e in seen if e.kind == EventKind.RISK_WARNING]


async def _started(tmp_path: Path, ex, monkeypatch, seen: list):  # type: ignore[no-untyped-def]
    """A node trading on `ex` (live loop running), BTC/USDT quoted at 50,000, equity seen."""
    write_vault(tmp_path, monkeypatch)
    node = TradingNode(sandbox_config(tmp_path, ex, []))
    node.bus.subscribe(seen.append)
    await node.start()
    run = asyncio.create_task(node.run_live(duration_s=60))
    node.live_hub().subscribe([Subscription("quotes", "binance", "BTC/USDT")])
    await eventually(lambda: any("bookticker" in s for s in ex.ws_subscriptions()))
    await eventually(lambda: _quoted(node, "50000"))
    await eventually(lambda: node.run_equity.peak == D(150_000))
    return node, run


async def _stopped(node: TradingNode, run) -> None:  # type: ignore[no-untyped-def]
    node.request_stop()
    await run
    await node.stop()
    node.close()


async def test_one_update_at_50_instead_of_50000_neither_halts_nor_moves_equity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list = []  # type: ignore[type-arg]
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        try:
            await _book(node, ex, "49", "51")  # one print 1000 times off
            assert node.risk.state is TradingState.ACTIVE, node.risk.state_by
            assert node.portfolio.mark_of("binance", "BTC/USDT")[0] == D(50_000)
            assert node.portfolio.equity() == D(150_000)
            denied = await node.submit(BUY)
            assert (denied.status, denied.code) == ("denied", "MARK_SUSPECT")
            for part in ("BTC/USDT", "50", "50000", "max_mark_jump_pct=30"):
                assert part in denied.reason
            assert "mark_suspect" in _warnings(node, seen)
            await _book(node, ex, "49999", "50003")  # back at the old level: the print dropped
            assert node.portfolio.mark_of("binance", "BTC/USDT")[0] == D(50_001)
            assert "mark_dropped" in _warnings(node, seen)
            assert node.risk.state is TradingState.ACTIVE
            ok = await node.submit(BUY)
            assert ok.ok, ok.reason
        finally:
            await _stopped(node, run)


async def test_a_real_crash_confirmed_by_a_second_update_still_halts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list = []  # type: ignore[type-arg]
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        try:
            await _book(node, ex, "29999", "30001")  # 40 % down: held
            assert node.risk.state is TradingState.ACTIVE
            await _book(node, ex, "29999", "30001")  # the same again: no confirmation
            assert node.risk.state is TradingState.ACTIVE
            await _book(node, ex, "29989", "29991")  # a second, distinct update near it
            await eventually(lambda: node.risk.state is TradingState.HALTED)
            assert node.risk.state_by == "breaker:drawdown"
            assert node.portfolio.mark_of("binance", "BTC/USDT")[0] == D(29_990)
            assert "mark_confirmed" in _warnings(node, seen)
        finally:
            await _stopped(node, run)


async def _crash(node: TradingNode, ex, first: int, second: int) -> None:  # type: ignore[no-untyped-def]
    """50,000 -> `first` -> `second`: each update more than 30 % below the one before."""
    await _book(node, ex, str(first - 1), str(first + 1))  # held
    assert node.risk.state is TradingState.ACTIVE
    await _book(node, ex, str(second - 1), str(second + 1))  # further on the same side


async def test_a_crash_past_the_limit_on_every_update_is_confirmed_and_halts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list = []  # type: ignore[type-arg]
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        try:
            await _crash(node, ex, 20_000, 8_000)  # 60 % down each time
            await eventually(lambda: node.risk.state is TradingState.HALTED)
            assert node.risk.state_by == "breaker:drawdown"
            assert node.portfolio.mark_of("binance", "BTC/USDT")[0] == D(8_000)
            assert "mark_confirmed" in _warnings(node, seen)
        finally:
            await _stopped(node, run)


async def test_a_stop_loss_exit_in_such_a_crash_is_not_denied_mark_suspect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, limit in (
        ("max_drawdown_pct", "50"),
        ("daily_loss_limit_usd", "50000"),
        ("daily_loss_limit_pct", "25"),
        ("weekly_loss_limit_usd", "50000"),
        ("weekly_loss_limit_pct", "40"),
    ):  # the exit, not a breaker, acts here
        monkeypatch.setitem(RISK, key, limit)
    seen: list = []  # type: ignore[type-arg]
    stop = OrderIntent(
        strategy_id="http", venue="binance", symbol="BTC/USDT", side=Side.SELL,
        amount=D("0.001"), type=OrderType.MARKET,
    )  # fmt: skip
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        try:
            await _crash(node, ex, 34_000, 23_000)  # 32 % down, then 32 % more: 18 % of equity
            await eventually(lambda: node.portfolio.mark_of("binance", "BTC/USDT")[0] == D(23_000))
            out = await node.submit(stop)
            assert out.ok, (out.code, out.reason)
        finally:
            await _stopped(node, run)


async def test_a_bad_first_print_after_a_restart_is_held_against_the_stored_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list = []  # type: ignore[type-arg]
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        await _stopped(node, run)  # stored: binance's BTC/USDT last accepted at 50,000
        ex.set_book("BTCUSDT", bids=[("49", "1")], asks=[("51", "1")])
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            node.live_hub().subscribe([Subscription("quotes", "binance", "BTC/USDT")])
            await eventually(lambda: _quoted(node, "50"))
            assert node.risk.mark_guard.held("binance", "BTC/USDT") == (D(50), D(50_000))
            assert node.risk.state is TradingState.ACTIVE, node.risk.state_by
            denied = await node.submit(BUY)
            assert (denied.status, denied.code) == ("denied", "MARK_SUSPECT"), denied.reason
        finally:
            await _stopped(node, run)


async def test_a_damaged_stored_mark_is_skipped_with_a_warning_at_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list = []  # type: ignore[type-arg]
    async with seeded_exchange() as ex:
        node, run = await _started(tmp_path, ex, monkeypatch, seen)
        await _stopped(node, run)  # stored: binance's BTC/USDT last accepted at 50,000
        db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
        try:
            rows = Storage(db).kv_get(MARK_GUARD_KEY)
            assert [r[:2] for r in rows] == [["binance", "BTC/USDT"]], rows
            damaged = [["binance", "ETH/USDT", "two thousand"], ["binance", "SOL/USDT", "NaN"],
                       ["binance", "XRP/USDT"], 7, *rows]  # fmt: skip
            Storage(db).kv_set(MARK_GUARD_KEY, damaged, 0)
        finally:
            db.dispose()
        ex.set_book("BTCUSDT", bids=[("49", "1")], asks=[("51", "1")])
        with caplog.at_level(logging.WARNING, logger="tradeguard.node.checkpoint"):
            node = TradingNode(sandbox_config(tmp_path, ex, []))  # no traceback
        skipped = [r.getMessage() for r in caplog.records if "skipped the stored mark" in r.message]
        assert len(skipped) == 4, skipped
        assert "ETH/USDT on binance: 'two thousand'" in skipped[0], skipped
        assert "SOL/USDT on binance: 'NaN'" in skipped[1], skipped
        assert "XRP/USDT on binance" in skipped[2] and "7 is not" in skipped[3], skipped
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            node.live_hub().subscribe([Subscription("quotes", "binance", "BTC/USDT")])
            await eventually(lambda: _quoted(node, "50"))
            # the sound row came back: the bad first print is held against it
            assert node.risk.mark_guard.held("binance", "BTC/USDT") == (D(50), D(50_000))
        finally:
            await _stopped(node, run)
