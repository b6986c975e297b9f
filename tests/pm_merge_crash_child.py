"""Child process: start a node whose start books a merge made while it was down, and die by
SIGKILL after the merge's first fill is recorded, before the booking commits.

argv: config.json
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tradeguard.config import Config
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    record = node.orders.record_fill

    def die_after(fill, order, strategy_id):  # the first leg written, the commit not reached
        booked = record(fill, order, strategy_id)
        if fill.trade_id.startswith("net-"):
            print(json.dumps({"recorded": fill.trade_id}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return booked

    node.orders.record_fill = die_after  # type: ignore[method-assign]
    await node.start()
    print(json.dumps({"unexpected": "started"}), flush=True)


asyncio.run(main())
