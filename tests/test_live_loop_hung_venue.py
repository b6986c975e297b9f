"""A venue whose REST hangs holds neither the live loop's heartbeat nor its kill file: periodic
reconciliation and the kill's cancels run as tasks of their own, and a reconciliation's result
that comes late is applied as it stands (a failure halts unless a halt stands; a success lifts
only the reconciler's own halt).

The sandbox holds `/api/v3/openOrders` (and the cancel) by its `latency_ms_by_endpoint` fault:
the request is answered only after the client gave up (or, for the shorter holds, late)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from native_exits_support import native_config
from node_support import trading_live
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.health import assess
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
OPEN_ORDERS = "/api/v3/openOrders"
BACKGROUND = {"duties", "kill", "reconcile", "kill-follow-up"}


def _config(tmp_path: Path, ex: SandboxExchange) -> Config:
    cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
    doc = cfg.model_dump(mode="json")
    # a held call gives up after 2 x 3 s: far over the 2 s heartbeat limit
    doc["reconcile"].update(call_timeout_s=3, call_attempts=2, balance_sync_interval_s=0)
    doc["health"]["heartbeat_max_age_s"] = 2
    doc["node"].update(kill_poll_interval_s=0.2, reconcile_interval_s=0.5)
    return Config.model_validate(doc)


class Counted:
    """Counts the loop's heartbeats and kill-file reads, and the open-order calls in flight."""

    def __init__(self, node: TradingNode) -> None:
        self.beats = self.polls = self.asked = self.in_flight = 0
        beat, poll = node.liveness.beat, node.kill_switch.poll
        venue = node.venues["binance"]
        fetch = venue.fetch_open_orders

        def beat_counted(lag: float | None) -> None:
            self.beats += 1
            beat(lag)

        def poll_counted() -> Any:
            self.polls += 1
            return poll()

        async def fetch_counted() -> Any:
            self.asked += 1
            self.in_flight += 1
            try:
                return await fetch()
            finally:
                self.in_flight -= 1

        node.liveness.beat = beat_counted  # type: ignore[method-assign]
        node.kill_switch.poll = poll_counted  # type: ignore[method-assign]
        venue.fetch_open_orders = fetch_counted  # type: ignore[method-assign]


async def _ticks_while(node: TradingNode, counted: Counted, n: int, held: Callable[[], bool]):
    """Wait for `n` heartbeats and kill-file reads, each seeing the node beating within its
    health limit, and `held` true all along."""
    beats, polls = counted.beats + n, counted.polls + n
    while counted.beats < beats or counted.polls < polls:
        assert held(), (counted.beats, beats, counted.polls, polls)
        check = assess(node, None)["checks"]["heartbeat"]
        assert check["status"] == "ok", check
        await asyncio.sleep(0.05)


def _leftover_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name() in BACKGROUND]


async def test_a_hung_reconciliation_holds_neither_the_heartbeat_nor_the_kill_file(tmp_path):
    sentinel = tmp_path / "tg.kill"
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        counted = Counted(node)
        startup = node.reconcile_report
        ex.faults.latency_ms_by_endpoint = {OPEN_ORDERS: 8_000}  # past 3 s, twice
        async with trading_live(node, duration_s=120):
            await eventually(lambda: counted.in_flight > 0, 30)
            asked = counted.asked

            def same_reconciliation() -> bool:  # its first attempt still held
                return node.reconcile_report is startup and counted.asked == asked

            await _ticks_while(node, counted, 10, same_reconciliation)
            # the kill file halts trading while the reconciliation still waits on the venue
            sentinel.write_text("stop\n")
            await eventually(lambda: node.risk.state is TradingState.HALTED, 10)
            assert node.risk.state_by == "sentinel"
            assert node.reconcile_report is startup
            # the reconciliation's failure, late, is applied: its report stands, and the halt
            # stays the kill's (not taken over, so no later success lifts it)
            await eventually(lambda: node.reconcile_report is not startup, 30)
            report = node.reconcile_report
            assert report is not None and not report.ok and report.trigger == "periodic"
            assert "fetch_open_orders" in report.reason and "2 attempt" in report.reason
            assert node.risk.state is TradingState.HALTED and node.risk.state_by == "sentinel"
            ex.faults.latency_ms_by_endpoint = {}
            await eventually(lambda: (r := node.reconcile_report) is not None and r.ok, 60)
            await eventually(lambda: (node.risk.last_kill or {}).get("finished_ts"), 30)
            assert node.risk.state is TradingState.HALTED and node.risk.state_by == "sentinel"
        assert _leftover_tasks() == []


async def test_a_late_reconciliation_lifts_only_the_reconcilers_own_halt(tmp_path):
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        await node.start()
        counted = Counted(node)
        # as a failed periodic reconciliation leaves it: trading blocked until one passes
        node.risk.halt("periodic reconciliation failed: test", RECONCILER_BY)
        before = node.reconcile_report
        ex.faults.latency_ms_by_endpoint = {OPEN_ORDERS: 2_500}  # answered, late
        async with trading_live(node, duration_s=120):
            await eventually(lambda: counted.in_flight > 0, 30)

            def blocked_while_held() -> bool:
                return node.reconcile_report is before and node.risk.state is TradingState.HALTED

            await _ticks_while(node, counted, 5, blocked_while_held)
            await eventually(lambda: node.reconcile_report is not before, 30)
            assert node.reconcile_report is not None and node.reconcile_report.ok
            assert node.risk.state is TradingState.ACTIVE
            # a kill asked for while the next one is held: the late success lifts nothing
            await eventually(lambda: counted.in_flight > 0, 30)
            held = node.reconcile_report
            (tmp_path / "tg.kill").write_text("stop\n")
            await eventually(lambda: node.risk.state is TradingState.HALTED, 10)
            assert node.reconcile_report is held
            await eventually(lambda: node.reconcile_report is not held, 30)
            assert node.reconcile_report is not None and node.reconcile_report.ok
            assert node.risk.state is TradingState.HALTED and node.risk.state_by == "sentinel"
        assert _leftover_tasks() == []


async def test_a_kill_whose_cancels_hang_holds_neither_the_heartbeat_nor_the_kill_file(tmp_path):
    sentinel = tmp_path / "tg.kill"
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        cfg.node.reconcile_interval_s = 3600
        node = TradingNode(cfg)
        await node.start()
        counted = Counted(node)
        async with trading_live(node, duration_s=120):
            rest = OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.001"),
                               OrderType.LIMIT, D("49500"))  # fmt: skip
            placed = await node.submit(rest)
            assert placed.ok and placed.order is not None, placed.reason
            ex.faults.latency_ms_by_endpoint = {OPEN_ORDERS: 12_000, "/api/v3/order": 12_000}
            sentinel.write_text("stop\n")
            await eventually(lambda: node.risk.state is TradingState.HALTED, 10)
            first = node.kill_switch.triggered_ts
            await eventually(lambda: counted.in_flight > 0, 10)  # the kill's open-order list

            def kill_running() -> bool:
                last = node.risk.last_kill or {}
                return not last.get("finished_ts")

            await _ticks_while(node, counted, 10, kill_running)
            # a second kill file, read while the first kill still waits on the venue
            await asyncio.sleep(0.01)
            sentinel.write_text("stop again\n")
            await eventually(lambda: node.kill_switch.triggered_ts != first, 10)
            assert kill_running()
            assert placed.order.client_order_id in node.orders.open
        # the stop cancelled the kill still waiting: nothing of the loop is left running, and
        # the kill stays unfinished for the next start to finish
        assert _leftover_tasks() == []
        assert not (node.risk.last_kill or {}).get("finished_ts")
