"""A fill whose every message was lost is found by reconciliation and booked as a fill.

Real ccxt against the sandbox exchange on 127.0.0.1: an IOC sell executes, but its REST answer
and its execution report are both lost, behind a page of older trades on the same symbol.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.config import Config
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Quote, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

OLDER_TRADES = 520  # more than one page (500) of the account's trade history


def _config(tmp_path: Path, ex: SandboxExchange) -> Config:
    return Config.model_validate(
        {
            "mode": "sandbox",
            "node": {
                "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                "kill_sentinel": str(tmp_path / "tg.kill"),
                "reconcile_interval_s": 3600,
            },
            "reconcile": {"balance_sync_interval_s": 0},
            "venues": [
                {
                    "name": "binance",
                    "kind": "ccxt",
                    "exchange": "binance",
                    "credentials": "alice",
                    "rest_url": ex.rest_url,
                    "ws_url": ex.ws_url,
                    "symbols": ["BTC/USDT"],
                }
            ],
            "strategies": [],
            "risk": {
                "max_order_notional_usd": "1000",
                "min_order_notional_usd": "0",
                "max_consecutive_losses": 1000,
                "cooldown_after_loss_s": 0,
            },
        }
    )


def _older_trades(ex: SandboxExchange) -> None:
    """Give Alice a full page of recent BTCUSDT trades the node never ordered."""
    alice = ex.account_id(ALICE_KEY)
    start = ex.now_ms() - OLDER_TRADES * 10
    for i in range(OLDER_TRADES):
        ex.engine.place(
            alice,
            "BTCUSDT",
            "BUY" if i % 2 else "SELL",
            "MARKET",
            start + i * 10,
            qty=Decimal("0.00011"),
        )


def _ioc_sell() -> OrderIntent:
    return OrderIntent(
        strategy_id="arb",
        venue="binance",
        symbol="BTC/USDT",
        side=Side.SELL,
        amount=Decimal("0.00084"),
        type=OrderType.LIMIT,
        price=Decimal("49990"),
        time_in_force=TimeInForce.IOC,
    )


@pytest.mark.usefixtures("vault_env")
async def test_lost_ioc_fill_is_applied_as_a_fill_not_booked_as_an_adjustment(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        _older_trades(ex)
        node = TradingNode(_config(tmp_path, ex))
        try:
            await node.start()
            assert node.reconcile_report.ok, node.reconcile_report.reason
            quote = Quote(
                "BTC/USDT",
                node.clock.now_ms(),
                Decimal("49999"),
                Decimal(1),
                Decimal("50001"),
                Decimal(1),
            )
            await node.on_quote(quote)
            # A first order that arrives whole, and a reconciliation that books the older trades.
            first = await node.submit(_ioc_sell())
            assert first.order is not None and first.order.status is OrderStatus.FILLED
            assert (await reconcile_and_gate(node, "periodic")).ok
            adjustments = len(node.storage.load_balance_adjustments("binance"))
            btc_before = node.portfolio.book("binance").total("BTC")
            ex.faults.update({"drop_response_after_execute": 1, "drop_execution_reports": 1})

            result = await node.submit(_ioc_sell())
            ex.faults.reset()
            order = result.order
            assert order is not None and result.status == "in_flight", result
            report = await reconcile_and_gate(node, "periodic")

            assert report.ok, report.reason
            venue_trades = [t for t in ex.engine.trades["BTCUSDT"] if t.qty == Decimal("0.00084")]
            assert len(venue_trades) == 2
            journal = node.storage.get_order(order.client_order_id)
            assert journal is not None
            assert (journal.status, journal.filled) == (OrderStatus.FILLED, Decimal("0.00084"))
            fills = node.storage.load_fills(client_order_id=order.client_order_id)
            assert [f.trade_id for f in fills] == [str(venue_trades[1].trade_id)]
            assert len(node.storage.load_balance_adjustments("binance")) == adjustments
            btc = node.portfolio.book("binance").total("BTC")
            assert btc == btc_before - Decimal("0.00084") - fills[0].fee * (
                fills[0].fee_asset == "BTC"
            )
        finally:
            await node.stop()
            node.close()
