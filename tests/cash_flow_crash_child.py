"""Child process: a node on the config at argv[1] starts, opens its day at 150,000 (the risk
state stored), prints "ready" and runs live with the balance sync on; once the sync has booked
a balance adjustment, and before the risk engine counts it, the process SIGKILLs itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal

from tradeguard.config import load_config
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode, live


def _die(node: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    node = TradingNode(load_config(sys.argv[1]))
    await node.start()
    q = Quote("BTC/USDT", node.clock.now_ms(), Decimal(49_999), Decimal(1), Decimal(50_001),
              Decimal(1))  # fmt: skip
    await node.on_quote(q)
    with node.storage.transaction():
        pass  # the commit writes the risk state the quote changed
    live.apply_cash_flows = _die  # type: ignore[assignment]
    print("ready", flush=True)
    await node.run_live(duration_s=60)


if __name__ == "__main__":
    asyncio.run(main())
