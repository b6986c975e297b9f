"""Child process: buy YES then NO on one Kalshi market and die before the NO's netting is kept.

argv: config.json mode (after_send: killed once the NO order is sent, its fill not booked;
in_netting: killed while the NO fill's netting is being booked, before its commit)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import tradeguard.execution.fill_application as fill_application
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode

TICKER = "KXFED-26DEC-T4.00"


def die(what: str) -> None:
    print(json.dumps({"killed": what}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    mode = sys.argv[2]
    node = TradingNode(cfg)
    await node.start()
    venue: Any = node.venues["kalshi"]
    for symbol, amount, price in (
        (f"{TICKER}:YES/USD", 4, "0.47"),
        (f"{TICKER}:NO/USD", 20, "0.56"),
    ):
        await node.on_quote(await venue.fetch_quote(symbol))
        if symbol.endswith("NO/USD"):
            if mode == "after_send":

                async def send_then_die(order: Any) -> Any:
                    await venue.client.create_order(venue.order_body(order))
                    die("after send")

                venue.submit = send_then_die
            else:

                def net_then_die(*_: Any) -> Any:
                    die("in netting")

                fill_application.net_after_fill = net_then_die  # type: ignore[assignment]
        intent = OrderIntent(
            "s1", "kalshi", symbol, Side.BUY, Decimal(amount), OrderType.LIMIT, Decimal(price)
        )
        print(json.dumps({"result": str(await node.submit(intent))}), flush=True)


asyncio.run(main())
