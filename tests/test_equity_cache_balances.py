"""Balances a reconciliation or the periodic balance sync sets from the venue (a deposit, a
withdrawal, a drift) move the equity without a fill: the node's cached equity and held symbols
must not stand through them (the risk engine, the curve and the run figures read the cache)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.execution import reconcile, reconcile_balances
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode, live

D = Decimal


def _cash_node(tmp_path: Path) -> TradingNode:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cfg = Config.model_validate(
        {"mode": "backtest", "node": {"valuation_asset": "USDT", "database_url": url}}
    )
    node = TradingNode(cfg)
    node.portfolio.set_balances("x", [Balance("x", "USDT", D("1000"))])
    node.portfolio.marks["ETH/USDT"] = D("2000")
    node._observe_equity(60_000, "ETH/USDT")
    assert node._equity == D("1000")
    return node


def _seen_after(node: TradingNode) -> tuple[Decimal, frozenset[str]]:
    node._observe_equity(120_000, "ETH/USDT")  # a quote of a symbol not held before
    return node._equity, node.held_symbols()


def test_a_reconciliation_that_finds_a_deposit_refreshes_the_equity(tmp_path):
    node = _cash_node(tmp_path)
    found = [Balance("x", "USDT", D("2000")), Balance("x", "ETH", D("0.5"))]
    reconcile_balances.apply_balances(
        node, "x", found, reconcile.ReconcileReport(trigger="periodic")
    )
    assert _seen_after(node) == (D("3000"), frozenset({"ETH/USDT"}))


class _Venue:
    name = "x"

    async def fetch_balances(self) -> list[Balance]:
        return [Balance("x", "USDT", D("2000")), Balance("x", "ETH", D("0.5"))]


async def test_the_balance_sync_that_finds_a_deposit_refreshes_the_equity(tmp_path):
    node = _cash_node(tmp_path)
    node.venues["x"] = _Venue()  # type: ignore[assignment]
    sync = live.balance_sync(node)
    assert sync is not None
    sync.reference = None  # no reference prices to fetch
    await sync.sync_once()
    assert node.portfolio.equity() == D("3000")
    assert _seen_after(node) == (D("3000"), frozenset({"ETH/USDT"}))
