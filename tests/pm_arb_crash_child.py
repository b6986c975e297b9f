"""Child process: a cross_venue node killed (SIGKILL) between the legs of an attempt, or while
the next start unwinds the lone leg.

argv: config.json between|unwinding [symbol contracts [venue]]
- between: start, buy `contracts` of `symbol` as the attempt's first leg (a real FOK order through
  the executor and the order path), then die before the second leg is sent;
- unwinding: start with the venue's submit patched to die on the first sell, once the order is
  journaled and before it leaves: the start-up unwind of the lone leg is cut short.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from rigs import die_on_first_sell
from tradeguard.config import Config
from tradeguard.model.enums import Side, TimeInForce
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    if sys.argv[2] == "unwinding":
        die_on_first_sell(node.venues["kalshi"])
        await node.start()
        print(json.dumps({"unexpected": "start ended"}), flush=True)
        return
    symbol, contracts = sys.argv[3], Decimal(sys.argv[4])
    name = sys.argv[5] if len(sys.argv) > 5 else "kalshi"
    await node.start()
    venue = node.venues[name]
    quote = await venue.fetch_quote(symbol)  # type: ignore[attr-defined]
    await node.on_quote(quote)
    executor = node.strategies[0].executor  # type: ignore[attr-defined]
    first = await executor._send(
        "first", name, symbol, Side.BUY, contracts, quote.ask, TimeInForce.FOK
    )
    print(json.dumps({"first": first.client_order_id, "filled": str(first.filled),
                      "price": str(first.avg_price)}), flush=True)  # fmt: skip
    os.kill(os.getpid(), signal.SIGKILL)  # the second leg is never sent


asyncio.run(main())
