"""`risk.on_loss_halt = "flatten"` starts its flatten as soon as the book is reconciled, never
at the next kill-file poll (`node.kill_poll_interval_s`, here 60 s): at once when the last
reconciliation was good, and, when a reconciliation fails between the trip and the flatten,
nothing from that unchecked book, then the flatten right after the next reconciliation that
succeeds. Sandbox venue (real ccxt), live loop."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from kill_follow_support import alice_sells, follow_node, held
from native_exits_support import native_config
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
FLATTEN = "kill switch flatten"
POLL_S = 60.0  # the kill file's poll: far longer than any wait below


def _trip(node: TradingNode) -> None:
    """Drop the equity to half its peak: max_drawdown_pct trips (HALTED, flatten asked)."""
    risk, now, equity = node.risk, node.clock.now_ms(), node.portfolio.equity()
    risk.observe_equity(now, equity * 2)
    risk.observe_equity(now + 1, equity)
    assert risk.state is TradingState.HALTED and risk.state_by == "breaker:drawdown"


def _flattens(node: TradingNode) -> list[object]:
    return [o for o in node.orders.orders.values() if o.signal.get("reason") == FLATTEN]


async def _holding(node: TradingNode) -> None:
    await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
    buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY,
                                        D("0.002"), OrderType.MARKET))  # fmt: skip
    assert buy.ok, buy.reason
    await eventually(lambda: held(node) > D("0.0019"), 30)


def _config(tmp_path, ex, reconcile_s: float = 0.5):  # type: ignore[no-untyped-def]
    cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
    cfg.risk.on_loss_halt = "flatten"
    cfg.node.kill_poll_interval_s = POLL_S
    cfg.node.reconcile_interval_s = reconcile_s
    cfg.reconcile.call_attempts = 1
    cfg.reconcile.call_timeout_s = 0.5
    return cfg


async def test_a_loss_flatten_starts_at_once_not_at_the_next_kill_poll(tmp_path):
    async with seeded_exchange() as ex:
        # no periodic reconciliation either: it would run a flatten left waiting
        node = follow_node(_config(tmp_path, ex, reconcile_s=3600))
        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=120))
        try:
            await _holding(node)
            started = time.monotonic()
            _trip(node)
            await eventually(lambda: held(node) < STEP, 30)
            # was: sold at the kill file's next poll, up to 60 s after the trip
            assert time.monotonic() - started < POLL_S / 2
            assert len(alice_sells(ex)) == 1
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()


async def test_a_reconciliation_failing_before_the_flatten_holds_it_until_one_succeeds(tmp_path):
    async with seeded_exchange() as ex:
        node = follow_node(_config(tmp_path, ex))
        ended: list[Event] = []

        def on_reconcile(event: Event) -> None:
            ended.append(event)
            if event.kind == EventKind.RECONCILE_FAILED and node.risk.state_by != (
                "breaker:drawdown"
            ):
                # the loss limit trips in the very step the failed pass ends, before its gate:
                # no halt of the reconciler's, the flatten is asked for from a book not checked
                _trip(node)

        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=120))
        try:
            await _holding(node)
            node.bus.subscribe(on_reconcile, "reconcile")
            # the venue's trade history stops answering in time: the next pass fails
            ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 2_000}
            failed = lambda: [e for e in ended if e.kind == EventKind.RECONCILE_FAILED]  # noqa: E731
            await eventually(lambda: len(failed()) >= 3, 30)  # the failing one, then two more
            assert _flattens(node) == [] and alice_sells(ex) == []  # nothing from that book
            assert held(node) > D("0.0019")
            last = node.risk.last_kill
            assert last is not None and "reconcil" in str(last.get("unfinished")), last
            assert "waits for a reconciliation" in node.risk.snapshot()["loss_halt"]["did"]
            ex.faults.latency_ms_by_endpoint = {}  # the venue answers again
            good = len(ended)
            await eventually(lambda: any(e.kind == EventKind.RECONCILED for e in ended[good:]),
                             30)  # fmt: skip
            recovered = time.monotonic()
            await eventually(lambda: held(node) < STEP, 30)
            # was: sent at the kill file's next poll, from the book the failed pass left
            assert time.monotonic() - recovered < POLL_S / 2
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells
            await eventually(lambda: bool((node.risk.last_kill or {}).get("finished_ts")), 30)
            assert node.risk.state is TradingState.HALTED
            assert node.risk.state_by == "breaker:drawdown"
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()
