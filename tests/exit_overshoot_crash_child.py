"""Child process: a sandbox node holding 0.002 BTC with a take-profit at 51,000 and a stop at
49,000 resting as two orders, each for all of it, and a cancel that takes 3 s to leave. Once
both rest it prints `{"tp": id, "sl": id}`; the parent then trades through both prices, both
exits fill, and the process SIGKILLs itself as the node reports the overshoot: the fills are
committed, the close (or the record of the report) is not.

argv: config.json. Prints `{"killed": the exits' ids, "excess": amount}` and dies. With a
second argument `part` it dies instead at the first fill of the overshoot's buy-back (the book
holds less than it: the rest expires), printing `{"part": its id, "filled": amount}`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from native_exits_support import add_alpha
from rigs import die
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode

KEY = ("binance", "BTC/USDT", "manual")


async def until(check: Any, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):  # bounded: the parent's wait is bounded too
        while not check():
            await asyncio.sleep(0.02)


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return Decimal(0) if pos is None else pos.quantity


def exit_intent(kind: OrderType, amount: Decimal, trigger: str) -> OrderIntent:
    return OrderIntent(
        "manual", "binance", "BTC/USDT", Side.SELL, amount, kind, reduce_only=True,
        trigger_price=Decimal(trigger), signal={"exit": kind.value},
    )  # fmt: skip


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = TradingNode(cfg)
    add_alpha(node)  # a bot on the pair: the node follows its market
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=90))
    await until(lambda: node.market.mid("BTC/USDT") == Decimal(50000))
    buy = await node.submit(
        OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, Decimal("0.002"), OrderType.MARKET)
    )
    assert buy.ok, buy.reason
    await until(lambda: held(node) > Decimal("0.0019"))
    qty = node.portfolio.sellable(node.portfolio.positions[KEY])
    tp = await node.submit(exit_intent(OrderType.TAKE_PROFIT, qty, "51000"))
    sl = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
    assert tp.ok and sl.ok and tp.order and sl.order, (tp, sl)
    venue = node.venues["binance"]
    cancel = venue.cancel

    async def slow_cancel(order: Any) -> Any:
        await asyncio.sleep(3)  # the cancel is on its way while the market moves
        return await cancel(order)

    venue.cancel = slow_cancel  # type: ignore[method-assign]

    def on_overshoot(event: Event) -> None:
        die({"killed": event.data["orders"], "excess": event.data["excess"]})

    def on_part(fill: Fill, order: Order | None) -> None:
        if order is not None and order.signal.get("exit") == "overshoot":
            die({"part": order.client_order_id, "filled": str(fill.amount)})

    if sys.argv[2:] == ["part"]:
        node.orders.fill_listeners.append(on_part)  # after the fill's commit
    else:
        node.bus.subscribe(on_overshoot, "exit.overshoot")
    await until(lambda: all(o.venue_order_id for o in (tp.order, sl.order)))
    print(json.dumps({"tp": tp.order.client_order_id, "sl": sl.order.client_order_id}), flush=True)
    await live  # the parent fills both exits; the overshoot's report kills this process
    print(json.dumps({"unexpected": "not killed"}), flush=True)


asyncio.run(main())
