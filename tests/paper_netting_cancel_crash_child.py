"""Child process: on a paper Kalshi, hold 10 YES in a resting sell and 10 NO, cancel the sell
and die after its end is committed, while the netting the cancel sets off is being booked.

argv: config.json
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
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode

D = Decimal


def die(*_: Any) -> Any:
    print(json.dumps({"killed": "in netting"}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    await node.start()
    now = node.clock.now_ms()
    await node.on_quote(Quote("FED:YES/USD", now, D("0.44"), D(500), D("0.46"), D(500)))
    await node.on_quote(Quote("FED:NO/USD", now, D("0.54"), D(500), D("0.56"), D(500)))
    orders = []
    for symbol, side, price, status in (
        ("FED:YES/USD", Side.BUY, "0.46", OrderStatus.FILLED),
        ("FED:YES/USD", Side.SELL, "0.48", OrderStatus.ACCEPTED),  # rests, holding the YES
        ("FED:NO/USD", Side.BUY, "0.56", OrderStatus.FILLED),
    ):
        intent = OrderIntent("s1", "kpaper", symbol, side, D(10), OrderType.LIMIT, D(price))
        result = await node.submit(intent)
        assert result.order is not None and result.order.status is status, result
        orders.append(result.order)
    print(json.dumps({"sell": orders[1].client_order_id}), flush=True)
    fill_application.net_ledger_pairs = die  # type: ignore[assignment]
    await node.orders.cancel(orders[1].client_order_id)
    print(json.dumps({"survived": True}), flush=True)


asyncio.run(main())
