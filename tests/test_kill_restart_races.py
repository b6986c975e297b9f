"""Kills that overlap, and resumes between a crash and the next start: the kill the next start
finishes (or leaves) is the last one asked for, never an older one's report; a kill the
operator resumed from is neither finished nor reported unfinished. Real child process,
sandbox venue (real ccxt)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli_support import run_cli
from kill_follow_support import alice_sells, follow_node, held
from native_exits_support import native_config
from rigs import killed_child
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
CHILD = Path(__file__).with_name("kill_restart_child.py")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`tradeguard ARGS` in-process: its exit code and what it wrote (output, then errors)."""
    done = run_cli(capsys, *args)
    return done.returncode, done.stdout + done.stderr


def _status(capsys: pytest.CaptureFixture[str], db: str) -> dict:
    done = run_cli(capsys, "status", "--json", "--db", db)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return dict(json.loads(done.stdout))


async def test_an_older_kill_ending_never_hides_a_newer_one_cut_short(tmp_path, capsys):
    # kill 1 (no flatten) is still cancelling when kill 2 (flatten) is asked for; kill 1 ends
    # and the node dies before kill 2 does: the next start must finish kill 2 and sell
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        await killed_child(CHILD, tmp_path, cfg, "overlap")
        shown = _status(capsys, cfg.node.database_url)
        assert shown["kill"]["reason"] == "second", shown["kill"]
        assert "the next start finishes it" in (shown["kill_unfinished"] or ""), shown
        node = TradingNode(cfg)
        await node.start()
        try:
            last = node.risk.last_kill
            assert last is not None and last["reason"] == "second", last
            assert last["flatten"] is True and last["finished_ts"] > 0, last
            await eventually(lambda: held(node) < STEP, 30)
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells
        finally:
            await node.stop()
            node.close()


async def test_a_kill_cut_short_then_resumed_is_left_to_the_operator(tmp_path, capsys):
    # the node dies before the kill cancels anything; the operator resumes while it is down:
    # the next start must not cancel nor sell, and nothing may say the kill is still to finish
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        docs = await killed_child(CHILD, tmp_path, cfg, "before_cancel")
        [resting] = [d["resting"] for d in docs if "resting" in d]
        db = cfg.node.database_url
        code, out = _cli(capsys, "resume", "--db", db, "--reason", "taken over", "--yes")
        assert code == 0, out
        shown = _status(capsys, db)
        assert shown["trading_state"] == "ACTIVE", shown
        # (checked below, after the starts)
        node = TradingNode(cfg)
        await node.start()
        try:
            assert node.risk.state.value == "ACTIVE"
            assert node.orders.open.get(resting) is not None  # the resting buy left working
            await asyncio.sleep(1)
            assert alice_sells(ex) == [] and held(node) > D("0.0019")
            # later a breaker halts the node (as the drawdown one does), and it restarts
            node.risk.halt("max drawdown reached", "risk")
        finally:
            await node.stop()
            node.close()
        node = TradingNode(cfg)
        await node.start()  # the kill resumed from long ago is not run now
        try:
            assert node.orders.open.get(resting) is not None
            await asyncio.sleep(1)
            assert alice_sells(ex) == [] and held(node) > D("0.0019")
            last = node.risk.last_kill
            assert last is not None and not last.get("finished_ts"), last
        finally:
            await node.stop()
            node.close()
        shown = _status(capsys, db)
        assert shown["kill_unfinished"] is None, shown["kill_unfinished"]
        code, out = _cli(capsys, "status", "--db", db)
        assert code == 0 and "UNFINISHED" not in out, out


async def test_a_start_killed_twice_while_finishing_a_kill_sells_once(tmp_path, capsys):
    # cut short before its cancels; the next start dies once the venue took its flatten, the
    # one after before its report is stored; the third finishes it: one sale, nothing resting
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        await killed_child(CHILD, tmp_path, cfg, "before_cancel")
        [sent] = await killed_child(CHILD, tmp_path, cfg, "restart_mid_flatten")
        assert "sent" in sent, sent
        await killed_child(CHILD, tmp_path, cfg, "restart_before_finish")
        assert _status(capsys, cfg.node.database_url)["kill_unfinished"]
        node = TradingNode(cfg)
        await node.start()
        try:
            assert node.risk.state.value == "HALTED"
            await eventually(lambda: held(node) < STEP, 30)
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0 and last["flatten"], last
            assert ex.engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT") == []
            await asyncio.sleep(1)
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells
        finally:
            await node.stop()
            node.close()
        assert _status(capsys, cfg.node.database_url)["kill_unfinished"] is None


async def test_a_kill_left_unfinished_by_a_failed_start_is_finished_once_reconciliation_succeeds(
    tmp_path,
):
    # start-up reconciliation fails, so the start sends nothing; the venue then answers again:
    # the running node's next good reconciliation finishes the kill (the resting buy must not
    # stay working for ever under a kill that asked for it to be cancelled)
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        docs = await killed_child(CHILD, tmp_path, cfg, "before_cancel")
        [resting] = [d["resting"] for d in docs if "resting" in d]
        cfg.reconcile.call_attempts = 1
        cfg.reconcile.call_timeout_s = 2  # the trade history answers only after 4 s: it fails
        cfg.node.reconcile_interval_s = 1
        ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 4_000}
        node = TradingNode(cfg)
        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=60))
        try:
            assert node.reconcile_report is not None and not node.reconcile_report.ok
            assert len(ex.engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT")) == 1
            ex.faults.latency_ms_by_endpoint = {}
            await eventually(lambda: bool(node.reconcile_report and node.reconcile_report.ok), 30)
            await eventually(
                lambda: ex.engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT") == [], 15
            )
            await eventually(lambda: held(node) < STEP, 30)
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0, last
            assert node.risk.state.value == "HALTED" and resting not in node.orders.open
            assert len(alice_sells(ex)) == 1
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()


async def test_a_kill_without_flatten_cut_short_only_cancels_at_the_next_start(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        await killed_child(CHILD, tmp_path, cfg, "before_cancel_no_flatten")
        node = TradingNode(cfg)
        await node.start()
        try:
            assert ex.engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT") == []
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0 and not last["flatten"], last
            await asyncio.sleep(1)
            assert alice_sells(ex) == [] and held(node) > D("0.0019")  # nothing sold
        finally:
            await node.stop()
            node.close()


async def test_a_kill_resumed_from_while_it_cancels_sends_no_flatten(tmp_path):
    # the kill's cancels are slow; the operator resumes (POST /api/v1/resume) meanwhile: the
    # flatten asked for is not sent into a resumed, trading node, and the report says so
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        node = follow_node(cfg)
        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=60))
        try:
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY,
                                                D("0.002"), OrderType.MARKET))  # fmt: skip
            assert buy.ok, buy.reason
            await eventually(lambda: held(node) > D("0.0019"), 30)
            release = asyncio.Event()
            cancel_all = node.orders.cancel_all

            async def slow_cancel(venue_name: str | None = None) -> Any:
                await release.wait()  # a venue slow to answer cancels
                return await cancel_all(venue_name)

            node.orders.cancel_all = slow_cancel  # type: ignore[method-assign]
            kill = asyncio.create_task(node.kill("drill", "pytest", flatten=True))
            await eventually(lambda: node.risk.state.value == "HALTED", 5)
            node.risk.resume("op", "false alarm")
            release.set()
            report = await kill
            await asyncio.sleep(1)
            assert alice_sells(ex) == [] and held(node) > D("0.0019")
            assert any("resumed" in f["reason"] for f in report["failed"]), report
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()
