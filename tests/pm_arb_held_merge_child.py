"""Child process: start a cross_venue node whose start books a merge of its held leg made while
it was down, and die by SIGKILL once the merge is booked, before the held record is settled.

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
    strat = node.strategies[0]

    def die(fills):  # the merge's fills committed, the held record not yet settled
        if any(f.trade_id.startswith("net-") for f in fills):
            print(json.dumps({"booked": [f.trade_id for f in fills]}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return []

    strat.take_up_netted = die  # type: ignore[method-assign]
    await node.start()
    print(json.dumps({"unexpected": "started"}), flush=True)


asyncio.run(main())
