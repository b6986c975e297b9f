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

from test_reconcile_missed_fill import _config
from tradeguard.config import StrategyConfig
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


@pytest.mark.usefixtures("vault_env")
async def test_a_new_database_does_not_book_the_accounts_recent_trades(tmp_path: Path) -> None:
    """A new database on an account another database traded a minute ago: its first start-up
    reconciliation booked those trades (the strategy's symbol, within `fills_lookback_s`) as
    fills of no strategy, so a fresh node showed an open BTC/USDT position and P&L it never
    made (seen with a triangular strategy, whose unused `symbol` defaults to BTC/USDT)."""
    async with seeded_exchange() as ex:
        _trades_by_hand(ex, 5)  # three sells, two buys: 0.0002 BTC short of where it began
        config = _config(tmp_path, ex)
        config.strategies = [
            StrategyConfig(id="tri", kind="triangular", venue="binance", symbol="BTC/USDT")
        ]
        node = TradingNode(config)
        try:
            await node.start()
            report = node.reconcile_report
            assert report.ok and report.fills_recovered == 0, report.to_json()
            assert node.storage.count_fills() == 0
            assert node.storage.load_open_positions() == []
            assert node.risk.state is not TradingState.HALTED, node.risk.state_reason
            free, locked = ex.balances(ALICE_KEY)["BTC"]
            assert node.portfolio.book("binance").total("BTC") == free + locked
            assert node.start_balances()["binance"]["BTC"] == free + locked
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_selling_coins_held_by_hand_is_a_smaller_balance_not_a_short(
    tmp_path: Path,
) -> None:
    """A sale made by hand after the node's ledger opened (on a venue no strategy trades):
    it was booked as a fill of no strategy, so `tradeguard positions` showed a BTC/USDT short
    of 0.0006 on an account still holding 0.9994 BTC."""
    from tradeguard.execution.ledger_audit import audit_storage
    from tradeguard.execution.reconcile import reconcile_all
    from tradeguard.model.holdings import HOLDINGS

    async with seeded_exchange() as ex:
        config = _config(tmp_path, ex)
        node = TradingNode(config)
        try:
            await node.start()
            alice = ex.account_id(ALICE_KEY)
            ex.engine.place(alice, "BTCUSDT", "SELL", "MARKET", ex.now_ms(), qty=Decimal("0.0006"))
            # the symbol's fills are caught up with its journal orders: place one, then reconcile
            mid = Quote("BTC/USDT", node.clock.now_ms(), Decimal("49999"), Decimal(1),
                        Decimal("50001"), Decimal(1))  # fmt: skip
            await node.on_quote(mid)
            await node.submit(_resting_buy())
            report = await reconcile_all(node, "periodic")
            assert report.ok, report.to_json()
            owned = list(node.storage.fill_pages())
            assert [(f.side, f.amount, owner) for f, owner in owned] == [
                (Side.SELL, Decimal("0.0006"), HOLDINGS)
            ]
            assert node.storage.load_open_positions() == []  # no short
            assert not [p for p in node.portfolio.positions.values() if p.quantity]
            free, locked = ex.balances(ALICE_KEY)["BTC"]
            assert free + locked == Decimal("0.9994")
            assert node.portfolio.book("binance").total("BTC") == free + locked
            audit = audit_storage(node.storage, node.start_balances(), node.orders.balance_only,
                                  rounded={"binance"})  # fmt: skip
            assert audit.ok, audit
        finally:
            await node.stop()
            node.close()
        node = TradingNode(config)  # the start-up ledger audit agrees
        try:
            await node.start()
            assert node.reconcile_report.ok and not node.reconcile_report.ledger_differences
            assert node.risk.state is not TradingState.HALTED, node.risk.state_reason
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_resting_sale_by_hand_that_fills_later_is_no_short_either(
    tmp_path: Path,
) -> None:
    """A sell placed by hand that rests is adopted by reconciliation (strategy `external`);
    when it fills, the sale of coins the account held showed as a BTC/USDT short of
    `external`, as an immediate sale by hand did before HOLDINGS."""
    from tradeguard.execution.reconcile import reconcile_all
    from tradeguard.sandbox.testing import BOB_KEY

    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex))
        try:
            await node.start()
            alice, bob = ex.account_id(ALICE_KEY), ex.account_id(BOB_KEY)
            ex.engine.place(alice, "BTCUSDT", "SELL", "LIMIT", ex.now_ms(),
                            qty=Decimal("0.0006"), price=Decimal("50000"))  # fmt: skip
            report = await reconcile_all(node, "periodic")
            assert report.ok and report.external_orders, report.to_json()
            ex.engine.place(bob, "BTCUSDT", "BUY", "LIMIT", ex.now_ms(),
                            qty=Decimal("0.0006"), price=Decimal("50000"))  # fmt: skip
            report = await reconcile_all(node, "periodic")
            assert report.ok, report.to_json()
            free, locked = ex.balances(ALICE_KEY)["BTC"]
            assert free + locked == Decimal("0.9994")
            assert [(f.side, f.amount) for f in node.storage.load_fills()] == [
                (Side.SELL, Decimal("0.0006"))
            ]
            assert node.storage.load_open_positions() == []  # no short
            assert not [p for p in node.portfolio.positions.values() if p.quantity]
        finally:
            await node.stop()
            node.close()
