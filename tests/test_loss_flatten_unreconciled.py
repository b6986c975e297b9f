"""`risk.on_loss_halt = "flatten"` tripping while the periodic reconciliation fails: nothing is
closed from a book not reconciled (invariant 2); the flatten waits, says so in status, and runs
once, after the next reconciliation that succeeds. Sandbox venue (real ccxt), live loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kill_follow_support import alice_sells, follow_node, held
from native_exits_support import native_config
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
FLATTEN = "kill switch flatten"


async def test_a_flatten_tripped_while_reconciliation_fails_waits_for_a_good_one(tmp_path):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.risk.on_loss_halt = "flatten"
        cfg.node.reconcile_interval_s = 0.5
        cfg.reconcile.call_attempts = 1
        cfg.reconcile.call_timeout_s = 0.5
        node = follow_node(cfg)
        failed: list[object] = []
        node.bus.subscribe(lambda e: e.kind == EventKind.RECONCILE_FAILED and failed.append(e))
        await node.start()
        live = asyncio.create_task(node.run_live(duration_s=120))
        try:
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
            buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY,
                                                D("0.002"), OrderType.MARKET))  # fmt: skip
            assert buy.ok, buy.reason
            await eventually(lambda: held(node) > D("0.0019"), 30)
            # the venue's trade history stops answering in time: periodic reconciliation fails
            ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 2_000}
            risk = node.risk
            await eventually(lambda: risk.state is TradingState.HALTED
                             and risk.state_by == RECONCILER_BY, 30)  # fmt: skip
            now, equity = node.clock.now_ms(), node.portfolio.equity()
            risk.observe_equity(now, equity * 2)  # the peak: twice the equity now
            risk.observe_equity(now + 1, equity)  # 50% below it: max_drawdown_pct trips
            assert risk.state is TradingState.HALTED and risk.state_by == "breaker:drawdown"
            seen = len(failed)
            await eventually(lambda: len(failed) >= seen + 2, 30)  # two more failed passes
            sent = [o for o in node.orders.orders.values() if o.signal.get("reason") == FLATTEN]
            assert sent == [] and alice_sells(ex) == []  # nothing from an unchecked ledger
            assert held(node) > D("0.0019")
            shown = risk.snapshot()["loss_halt"]
            assert "waits for a reconciliation" in shown["did"], shown
            ex.faults.latency_ms_by_endpoint = {}  # the venue answers again
            await eventually(lambda: held(node) < STEP, 30)
            await eventually(lambda: bool((risk.last_kill or {}).get("finished_ts")), 30)
            last = risk.last_kill
            assert last is not None and last["by"] == "breaker:drawdown", last
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells  # once
            assert risk.state is TradingState.HALTED and risk.state_by == "breaker:drawdown"
            assert risk.snapshot()["loss_halt"]["did"].startswith("HALTED after flattening")
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()
