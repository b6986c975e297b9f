"""Child process: start a node (its start-up reconciliation meets an order filled on the venue
whose fill rows cannot be read), say which orders it escalated, then die by SIGKILL.

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
    node = TradingNode(Config.model_validate(json.loads(Path(sys.argv[1]).read_text())))
    await node.start()
    print(json.dumps({"unreadable": sorted(node.orders.unreadable)}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


asyncio.run(main())
