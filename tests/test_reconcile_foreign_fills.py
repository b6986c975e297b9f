"""Trades the account made before the node's ledger opened are in its opening balances.

Real ccxt against the sandbox exchange on 127.0.0.1: the account traded by hand (or under
another database) a minute before the node's first start; the node rests an order, stops and
starts again. The restart's fill catch-up reaches back before that order (fills_lookback_s)
and used to book those older trades a second time, so the start-up ledger audit halted trading.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from test_reconcile_missed_fill import _config, vault_env  # noqa: F401  (a fixture)
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Quote, Side
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange


def _trades_by_hand(ex: SandboxExchange, n: int) -> None:
    alice = ex.account_id(ALICE_KEY)
    start = ex.now_ms() - 30_000  # within the default 120 s lookback
    for i in range(n):
        side = "BUY" if i % 2 else "SELL"
        ex.engine.place(alice, "BTCUSDT", side, "MARKET", start + i * 10, qty=Decimal("0.0002"))


def _resting_buy() -> OrderIntent:
    return OrderIntent("hand", "binance", "BTC/USDT", Side.BUY, Decimal("0.0002"),
                       OrderType.LIMIT, price=Decimal("49500"))  # fmt: skip


@pytest.mark.usefixtures("vault_env")
async def test_a_restart_does_not_book_trades_older_than_the_ledger_again(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        _trades_by_hand(ex, 5)
        node = TradingNode(_config(tmp_path, ex))
        try:
            await node.start()
            assert node.reconcile_report.ok, node.reconcile_report.reason
            mid = Quote("BTC/USDT", node.clock.now_ms(), Decimal("49999"), Decimal(1),
                        Decimal("50001"), Decimal(1))  # fmt: skip
            await node.on_quote(mid)
            rest = await node.submit(_resting_buy())
            assert rest.order is not None and rest.order.status is OrderStatus.ACCEPTED, rest
        finally:
            await node.stop()
            node.close()
        node = TradingNode(_config(tmp_path, ex))
        try:
            await node.start()
            report = node.reconcile_report
            assert report.ok and not report.ledger_differences, report.to_json()
            assert node.risk.state is not TradingState.HALTED, node.risk.state_reason
            assert node.storage.count_fills() == 0  # the older trades are not the node's fills
            free, locked = ex.balances(ALICE_KEY)["BTC"]
            assert node.portfolio.book("binance").total("BTC") == free + locked
        finally:
            await node.stop()
            node.close()
