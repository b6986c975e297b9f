"""Child process: a node on the config at argv[1] starts, opens its day at 150,000 (the risk
state stored), prints "ready" and runs live with the balance sync on; once the sync has booked
a balance adjustment, and before the risk engine counts it, the process SIGKILLs itself; with
argv[2] "after" (its run figures stored first), once the count is committed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal

from tradeguard.config import load_config
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode, live
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.node.checkpoint import checkpoint


def _die(node: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _count_then_die(node: TradingNode) -> None:
    if apply_cash_flows(node):
        _die(node)


async def main() -> None:
    node = TradingNode(load_config(sys.argv[1]))
    await node.start()
    q = Quote("BTC/USDT", node.clock.now_ms(), Decimal(49_999), Decimal(1), Decimal(50_001),
              Decimal(1))  # fmt: skip
    await node.on_quote(q)
    with node.storage.transaction():
        pass  # the commit writes the risk state the quote changed
    after = sys.argv[2:] == ["after"]
    if after:
        checkpoint(node, node.clock.now_ms())  # the day's opening equity, the run's figures
    live.apply_cash_flows = _count_then_die if after else _die  # type: ignore[assignment]
    print("ready", flush=True)
    await node.run_live(duration_s=60)


if __name__ == "__main__":
    asyncio.run(main())
