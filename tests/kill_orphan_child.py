"""Child process: a paper outcome node holding 5 contracts a trade it did not make bought (a
position of no strategy) is killed with flatten and SIGKILLs itself once the venue has taken
the flatten, before the kill's report is stored.

argv: config.json. Prints {"sent": client_order_id} before it dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from test_kill_flatten_orphan import SYMBOL, hand_buy, quote
from tradeguard.config import Config
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    await node.start()
    await quote(node)
    await hand_buy(node)
    venue = node.venues["kpaper"]
    send = venue.submit

    async def send_then_die(order: Any) -> Any:
        await send(order)
        print(json.dumps({"sent": order.client_order_id, "symbol": SYMBOL}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = send_then_die  # type: ignore[method-assign]
    await node.kill(reason="incident", by="pytest", flatten=True)


if __name__ == "__main__":
    asyncio.run(main())
