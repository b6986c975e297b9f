"""Child process: start a node whose start-up reconciliation books two sales made by hand on
the venue, and die by SIGKILL right after the first one is booked, before the second.

argv: config.json
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tradeguard.config import Config
from tradeguard.execution.fill_application import FillApplication
from tradeguard.model.enums import Side
from tradeguard.node import TradingNode

_book_fill = FillApplication.book_fill


def book_then_die(self: Any, fill: Any) -> list[Any]:
    booked = _book_fill(self, fill)
    if fill.side is Side.SELL and not fill.client_order_id:  # a sale of no order of the node
        stack = [frame.function for frame in inspect.stack()]
        print(json.dumps({"killed": fill.symbol, "stack": stack}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return booked


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    FillApplication.book_fill = book_then_die  # type: ignore[method-assign]
    node = TradingNode(cfg)
    await node.start()
    print(json.dumps({"unexpected": "started without booking a sale"}), flush=True)


asyncio.run(main())
