"""Child process: start a node on a prediction-market venue, journal one order, die before send.

argv: config.json venue symbol price
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    venue_name, symbol, price = sys.argv[2], sys.argv[3], Decimal(sys.argv[4])
    node = TradingNode(cfg)
    await node.start()
    venue = node.venues[venue_name]
    await node.on_quote(await venue.fetch_quote(symbol))  # type: ignore[attr-defined]

    async def die(order):  # the journal row is committed; the request never leaves
        print(json.dumps({"journaled": order.client_order_id}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = die  # type: ignore[method-assign]
    intent = OrderIntent("s1", venue_name, symbol, Side.BUY, Decimal(10), OrderType.LIMIT, price)
    result = await node.submit(intent)
    print(json.dumps({"unexpected": str(result)}), flush=True)


asyncio.run(main())
