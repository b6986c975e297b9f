"""Child process: hold 10 YES in a resting sell and 10 NO on one Kalshi market, cancel the sell
and die before the netting the cancel sets off is kept.

argv: config.json mode (after_cancel: killed once the venue cancelled the sell, nothing of it
journaled; in_netting: killed after the sell's end is committed, while its netting is booked)
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
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode

TICKER = "KXFED-26DEC-T4.00"
YES, NO = f"{TICKER}:YES/USD", f"{TICKER}:NO/USD"


def die(what: str) -> None:
    print(json.dumps({"killed": what}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def submit(node: TradingNode, symbol: str, side: Side, price: Decimal) -> Any:
    intent = OrderIntent("s1", "kalshi", symbol, side, Decimal(10), OrderType.LIMIT, price)
    result = await node.submit(intent)
    print(json.dumps({"result": str(result)}), flush=True)
    return result.order


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    mode = sys.argv[2]
    node = TradingNode(cfg)
    await node.start()
    venue: Any = node.venues["kalshi"]
    yes = await venue.fetch_quote(YES)
    await node.on_quote(yes)
    assert (await submit(node, YES, Side.BUY, yes.ask)).status is OrderStatus.FILLED
    sell = await submit(node, YES, Side.SELL, yes.ask + Decimal("0.03"))
    assert sell.status is OrderStatus.ACCEPTED
    no = await venue.fetch_quote(NO)
    await node.on_quote(no)
    assert (await submit(node, NO, Side.BUY, no.ask)).status is OrderStatus.FILLED
    print(json.dumps({"sell": sell.client_order_id}), flush=True)
    if mode == "after_cancel":
        cancel = venue.cancel

        async def cancel_then_die(order: Any) -> Any:
            await cancel(order)
            die("after cancel")

        venue.cancel = cancel_then_die
    else:

        def net_then_die(*_: Any) -> Any:
            die("in netting")

        fill_application.net_ledger_pairs = net_then_die  # type: ignore[assignment]
    await node.orders.cancel(sell.client_order_id)
    print(json.dumps({"survived": True}), flush=True)


asyncio.run(main())
