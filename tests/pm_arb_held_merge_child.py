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
from tradeguard.strategies.cross_venue import held_merge


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)

    def die(executor, fill):  # the merge's fills committed, the held record not yet settled
        if held_merge.netting_sale(executor, fill):
            print(json.dumps({"booked": fill.trade_id}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return []

    held_merge.netted_fill = die  # type: ignore[assignment]
    await node.start()
    print(json.dumps({"unexpected": "started"}), flush=True)


asyncio.run(main())
