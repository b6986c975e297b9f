"""Child process: start a node on the Kraken sandbox, rest a buy, die once a part of it that
the venue's polling found is booked.

argv: config.json. The order rests at 50,000 for 0.002 BTC; the parent trades through part of
it; the process SIGKILLs itself as soon as the fill is in its journal, with the order still open
on the venue (so the next start finds it open, partly filled, with more fills maybe to come).
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
from tradeguard.model import OrderIntent, OrderType, Quote, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    await node.start()
    node.venues["kraken"].order_poll_s = 0.05  # type: ignore[attr-defined]
    now = node.clock.now_ms()
    one = Decimal(1)
    await node.on_quote(Quote("BTC/USD", now, Decimal("49999"), one, Decimal("50001"), one))
    intent = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
        amount=Decimal("0.002"), type=OrderType.LIMIT, price=Decimal("50000"),
        time_in_force=TimeInForce.GTC,
    )  # fmt: skip
    result = await node.submit(intent)
    print(json.dumps({"submitted": str(result)}), flush=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        if node.storage.load_fills(venue="kraken"):
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(0.01)
    print(json.dumps({"unexpected": "no fill booked"}), flush=True)


asyncio.run(main())
