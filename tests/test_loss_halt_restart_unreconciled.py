"""A node restarts with its drawdown already past `risk.max_drawdown_pct` (the price fell while
it was down; the loss limit trips at its first equity figure, the first quote of the live loop:
start-up observes none) or with the daily loss limit's marker stored, and the venue's
reconciliation failing at start. Whatever `risk.on_loss_halt` says, no new
exposure is ever sent; nothing is sold from the unchecked book; once a reconciliation succeeds
the exits go as the mode says (halt: none; reduce: a reduce-only close passes; flatten: the
position is sold once), and the status names the limit and the mode throughout. Sandbox venue
(real ccxt), live loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from kill_follow_support import alice_sells, follow_node, held
from native_exits_support import native_config
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.risk.observers import RECONCILER_BY
from tradeguard.risk.state import DAILY_LOSS_BY
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
BUY = OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.001"), OrderType.MARKET)


def _close(node) -> OrderIntent:  # type: ignore[no-untyped-def]
    """A reduce-only sell of what the position holds (the buy's fee was paid in BTC)."""
    pos = node.portfolio.positions[("binance", "BTC/USDT", "manual")]
    return OrderIntent(
        "manual",
        "binance",
        "BTC/USDT",
        Side.SELL,
        abs(node.portfolio.sellable(pos)),
        OrderType.MARKET,
        reduce_only=True,
    )


async def _hold_then_stop(cfg, marker: str) -> None:  # type: ignore[no-untyped-def]
    """Buy 0.002 BTC, stop. `drawdown`: the stored drawdown peak is then twice the equity (the
    price fell that far while the node was down); `daily_loss`: the daily loss limit tripped
    as the node stopped (its marker and what the mode did stored, a flatten not yet run)."""
    node = follow_node(cfg)
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=120))
    try:
        await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
        buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY,
                                            D("0.002"), OrderType.MARKET))  # fmt: skip
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)
        await node.stop()
    if marker == "drawdown":
        node.risk.equity_tracker.peak = node.portfolio.equity() * 2
        node.risk._save_now()
    else:
        node.risk.daily_loss_halt_day = node.risk.day
        node.risk.loss_halt("daily loss 6,000 USD reached the limit 5,000 USD", DAILY_LOSS_BY)
    node.close()


@pytest.mark.parametrize("marker", ["drawdown", "daily_loss"])
@pytest.mark.parametrize("mode", ["halt", "reduce", "flatten"])
async def test_a_loss_trip_at_restart_under_a_failed_reconciliation(tmp_path, mode, marker):
    by = f"breaker:{marker}"
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.risk.on_loss_halt = mode
        cfg.node.reconcile_interval_s = 0.5
        cfg.reconcile.call_attempts = 1
        cfg.reconcile.call_timeout_s = 0.5
        await _hold_then_stop(cfg, marker)
        ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 2_000}  # reconciliation fails
        node = follow_node(cfg)
        ended: list[Event] = []
        node.bus.subscribe(ended.append, "reconcile")
        await node.start()
        risk = node.risk
        assert node.reconcile_report is not None and not node.reconcile_report.ok
        assert risk.state is TradingState.HALTED
        # a halt of the loss limit's own stands; REDUCING or ACTIVE: the reconciler halts
        assert risk.state_by == (by if marker == "daily_loss" and mode != "reduce"
                                 else RECONCILER_BY), risk.state_by  # fmt: skip
        live = asyncio.create_task(node.run_live(duration_s=120))
        try:
            await eventually(lambda: risk.last_loss_halt is not None, 30)  # its first equity
            shown = risk.snapshot()["loss_halt"]
            assert shown["by"] == by and shown["mode"] == mode, shown
            assert ("max_drawdown_pct" if marker == "drawdown" else "limit") in shown["reason"]
            failed = sum(e.kind == EventKind.RECONCILE_FAILED for e in ended)
            await eventually(lambda: sum(e.kind == EventKind.RECONCILE_FAILED
                                         for e in ended) >= failed + 2, 30)  # fmt: skip
            assert not (await node.submit(BUY)).ok  # no new exposure
            assert alice_sells(ex) == [] and held(node) > D("0.0019")  # nothing unchecked sold
            ex.faults.latency_ms_by_endpoint = {}  # the venue answers again
            n = len(ended)
            await eventually(lambda: any(e.kind == EventKind.RECONCILED for e in ended[n:]), 30)
            assert not (await node.submit(BUY)).ok  # still no new exposure
            if mode == "halt":
                assert risk.state is TradingState.HALTED and risk.state_by == by
                close = await node.submit(_close(node))
                assert not close.ok and close.code == "TRADING_HALTED", close
                assert alice_sells(ex) == []
            elif mode == "reduce":
                assert risk.state is TradingState.REDUCING, (risk.state, risk.state_reason)
                assert risk.state_by == by
                close = await node.submit(_close(node))
                assert close.ok, close.reason  # the exit goes
                await eventually(lambda: held(node) < STEP, 30)
            else:
                await eventually(lambda: held(node) < STEP, 30)
                await eventually(lambda: bool((risk.last_kill or {}).get("finished_ts")), 30)
                assert risk.state is TradingState.HALTED and risk.state_by == by
            sells = alice_sells(ex)
            assert len(sells) == (0 if mode == "halt" else 1), sells  # each position once
            shown = risk.snapshot()["loss_halt"]
            assert shown["by"] == by and shown["mode"] == mode, shown
            assert shown["holds"], shown
            buys = [o for o in node.orders.orders.values() if o.side is Side.BUY]
            assert buys == [], buys  # no new exposure was ever sent
        finally:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
            await node.stop()
            node.close()
