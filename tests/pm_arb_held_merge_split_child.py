"""Child process: start a cross_venue node whose start books a merge made while it was down of
more YES than its oldest held leg holds, and die by SIGKILL once that leg's record is settled,
before the next held leg's part of the same sale is.

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
    settle, done = held_merge._settle, []

    def second_dies(*args, **kwargs):  # the first held record settled and committed
        if done:
            print(json.dumps({"settled": [r.record_id for r in done]}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        done.append(settle(*args, **kwargs))
        return done[-1]

    held_merge._settle = second_dies  # type: ignore[assignment]
    await node.start()
    print(json.dumps({"unexpected": "started"}), flush=True)


asyncio.run(main())
