"""Dust a periodic reconciliation finds (a fill's quote rounded to the exchange's 8 decimals
while the ledger books price * amount in full) is recorded for the ledger audit but is no cash
flow; money beyond the balance tolerance still is one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.execution import reconcile, reconcile_balances
from tradeguard.model.balance import Balance
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import flow_kind

D = Decimal


def _node(tmp_path: Path) -> TradingNode:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cfg = Config.model_validate(
        {"mode": "backtest", "node": {"valuation_asset": "USDT", "database_url": url}}
    )
    node = TradingNode(cfg)
    report = reconcile.ReconcileReport(trigger="startup")  # the venue's ledger opens here
    reconcile_balances.apply_balances(node, "x", [Balance("x", "BTC", D("1.2"))], report)
    return node


def _periodic(node: TradingNode, btc: str) -> dict:
    report = reconcile.ReconcileReport(trigger="periodic")
    reconcile_balances.apply_balances(node, "x", [Balance("x", "BTC", D(btc))], report)
    return node.storage.load_balance_adjustments("x")[0]


def test_dust_a_periodic_reconciliation_finds_is_no_deposit(tmp_path: Path) -> None:
    # Walked: the token-unlock rehearsal logged "cash flow: sandbox BTC 0.000000007168010, a
    # deposit found by the balance sync: the loss limits and the drawdown baselines move with
    # it" for the residue of a buy of 0.39993373716801 BTC the exchange debited as 0.39993373
    # (on a sell the residue goes the other way: a critical "left the account ... theft").
    node = _node(tmp_path)
    book = node.portfolio.book("x")
    book.set("BTC", D("1.2") - D("0.00000000716801"))  # the ledger, after that buy
    adj = _periodic(node, "1.2")
    assert adj["difference"] == D("0.00000000716801")
    assert flow_kind(adj["reason"]) == ""
    book.set("BTC", D("1.2") + D("0.000000009"))
    assert flow_kind(_periodic(node, "1.2")["reason"]) == ""


def test_money_beyond_the_tolerance_a_periodic_reconciliation_finds_is_a_cash_flow(
    tmp_path: Path,
) -> None:
    node = _node(tmp_path)
    adj = _periodic(node, "1.15")  # 0.05 BTC gone: beyond 0.1 % of 1.2 BTC
    assert adj["difference"] == D("-0.05")
    assert flow_kind(adj["reason"]) == "found"


def test_money_within_the_tolerance_a_periodic_reconciliation_finds_is_announced(
    tmp_path: Path,
) -> None:
    # 0.0005 BTC gone from 1.2 (inside 0.1 %, far beyond a fill's 1e-8 rounding): booked as no
    # cash flow, as the balance sync books it, and said as the sync says it; dust is not
    node = _node(tmp_path)
    seen: list = []
    node.bus.subscribe(seen.append, "balance.within_tolerance")
    node.portfolio.book("x").set("BTC", D("1.2") - D("0.000000009"))
    _periodic(node, "1.2")
    assert seen == []
    assert flow_kind(_periodic(node, "1.1995")["reason"]) == ""
    [event] = seen
    assert (event.severity, event.data["asset"], event.data["difference"]) == (
        "info", "BTC", "-0.0005",
    )  # fmt: skip
