"""A start-up difference within the fees' rounding is no cash flow: real ccxt against the
sandbox exchange on 127.0.0.1, a real node and SQLite.

An exchange credits whole units of its asset's precision (1e-8 BTC) while the ledger books a
fill's price times amount (10 decimals and more on a market such as A045/BTC). After a
triangular run was stopped and started again, the start-up reconciliation booked the
residue, -0.00000000162 BTC, as an adjustment, and the cash flow count raised a critical
`risk.cash_flow` ("left the account with no transfer declared: counted as a loss, as a theft
... would be"), telling the operator to declare a withdrawal of 0.00000000162 BTC.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from running_support import running, started_clean
from test_exchange_ledger_audit import _config
from tradeguard.model import OrderIntent, OrderType, Quote, Side, TradingState
from tradeguard.model.enums import TimeInForce
from tradeguard.model.events import Event
from tradeguard.node.cash_flows import CASH_FLOW_EVENT
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

RESIDUE = Decimal("0.00000001")  # one unit of the exchange's 8 decimals


@pytest.mark.usefixtures("vault_env")
async def test_a_start_up_difference_within_the_fees_rounding_raises_no_cash_flow_alert(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        async with started_clean(cfg) as node:
            one, now = Decimal(1), node.clock.now_ms()
            bid, ask = Decimal("49999"), Decimal("50001")
            await node.on_quote(Quote("BTC/USDT", now, bid, one, ask, one))
            intent = OrderIntent(
                strategy_id="s1", venue="binance", symbol="BTC/USDT", side=Side.BUY,
                amount=Decimal("0.002"), type=OrderType.LIMIT, price=Decimal("50010"),
                time_in_force=TimeInForce.IOC,
            )  # fmt: skip
            await node.submit(intent)
            await eventually(lambda: len(node.storage.load_fills(venue="binance")) == 1)
        # The venue holds 1e-8 BTC less than the ledger: within the rounding of the BTC fee.
        ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("BTC").free -= RESIDUE

        events: list[Event] = []
        async with running(cfg, events) as node:
            assert node.reconcile_report.ok, node.reconcile_report.reason
            assert node.ledger_report.ok, node.ledger_report.describe()
            assert node.risk.state is TradingState.ACTIVE, node.risk.state_reason
            [adj] = node.storage.load_balance_adjustments("binance")
            assert adj["difference"] == -RESIDUE
            flows = [e for e in events if e.kind == CASH_FLOW_EVENT]
            assert flows == [], [e.data["reason"] for e in flows]
