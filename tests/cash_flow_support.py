"""Outside money moved on the sandbox exchange while a node runs, and declared afterwards with
`tradeguard transfer` in a child process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_transfer_record import _cli
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY


async def booked(node: TradingNode, ex: SandboxExchange, change: int) -> None:
    """Alice's USDT on the exchange changed by `change`, found by the balance check and counted."""
    ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free += Decimal(change)
    await reconcile_all(node, "periodic")
    apply_cash_flows(node)


async def declared(path: Path, amount: str) -> str:
    """`tradeguard transfer` declares `amount` USDT on binance, sent to the bank; its output."""
    base = ["transfer", "--config", str(path), "--venue", "binance", "--asset", "USDT"]
    code, out, err = await _cli(*base, "--amount", amount, "--reason", "to the bank")
    assert code == 0, (out, err)
    return out
