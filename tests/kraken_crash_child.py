"""Child process: start a node on the Kraken sandbox, send one IOC buy, die once it executed.

argv: config.json [stop]. The process SIGKILLs itself after the venue executed the buy and
before the node read the answer (so it never records the fill). With `stop` it buys first
(the answer read), then sends a native stop-loss sell of it (trigger 49,000, reduce-only) and
dies once the venue rests that.
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
    now = node.clock.now_ms()
    one = Decimal(1)
    await node.on_quote(Quote("BTC/USD", now, Decimal("49999"), one, Decimal("50001"), one))
    venue = node.venues["kraken"]
    create = venue.client.create_order  # type: ignore[attr-defined]
    buy = OrderIntent(
        strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.BUY,
        amount=Decimal("0.002"), type=OrderType.LIMIT, price=Decimal("50010"),
        time_in_force=TimeInForce.IOC,
    )  # fmt: skip
    stop = sys.argv[2:] == ["stop"]
    if stop:  # a position first (filled at once: IOC), which the stop then protects
        bought = await node.submit(buy)
        assert bought.ok, bought

    async def send_then_die(*args, **kwargs):  # executed on the venue; the answer is never read
        await create(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.client.create_order = send_then_die  # type: ignore[attr-defined]
    intent = buy
    if stop:
        intent = OrderIntent(
            strategy_id="s1", venue="kraken", symbol="BTC/USD", side=Side.SELL,
            amount=Decimal("0.002"), type=OrderType.STOP_LOSS, trigger_price=Decimal("49000"),
            reduce_only=True,
        )  # fmt: skip
    result = await node.submit(intent)
    print(json.dumps({"unexpected": str(result)}), flush=True)


asyncio.run(main())
