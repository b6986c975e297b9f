"""Outside money moved on the sandbox exchange while a node runs, and declared afterwards with
`tradeguard transfer` in this process."""

from __future__ import annotations

import asyncio
import contextlib
import io
from decimal import Decimal
from pathlib import Path

from tradeguard.cli.main import main
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


async def _cli(*args: str) -> tuple[int, str, str]:
    """`tradeguard ARGS...` in this process, on a thread of its own (it runs its own event loop
    while the sandbox's runs on this one): its exit code, stdout and stderr."""

    def run() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue(), err.getvalue()

    return await asyncio.wait_for(asyncio.to_thread(run), 120)


async def declared(path: Path, amount: str) -> str:
    """`tradeguard transfer` declares `amount` USDT on binance, sent to the bank; its output."""
    base = ["transfer", "--config", str(path), "--venue", "binance", "--asset", "USDT"]
    code, out, err = await _cli(*base, "--amount", amount, "--reason", "to the bank")
    assert code == 0, (out, err)
    return out
