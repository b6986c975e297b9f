"""Child process: a sandbox node holding 0.002 BTC with a reduce-only target (a limit sell at
50,500) and a stop at 49,000 resting as two orders, each for all of it. Once both rest it prints
`{"target": id, "stop": id}`; the parent then fills part of the target, and the node shrinks the
stop: cancel, then place it again smaller. The process SIGKILLs itself around the cancel of the
larger stop.

argv: config.json moment, where moment is `before_cancel` (the smaller stop journaled, the
cancel of the larger never sent), `cancel_sent` (the venue took the cancel, the node never heard
back) or `cancel_seen` (the node recorded the stop cancelled, the smaller one never sent).
Prints `{"killed": stop id, "journal": the journaled replacements}` and dies.

Moment `emptied_cancel_sent`: once the smaller stop rests, a nearer stop for as much rests too
(`{"replacement": id, "second": id}`); the parent fills more of the target, the node shrinks the
nearer stop and cancels the smaller one for nothing (the nearer holds all that is left), and
dies once the venue took that cancel, the node never hearing back.

Moment `api_cancel_sent`: once the smaller stop rests (`{"replacement": id}`), it is cancelled
as the API cancels an order (`node.orders.cancel`), and the node dies once the venue took that
cancel, never hearing back.
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
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.exit_siblings import PENDING_KEY

KEY = ("binance", "BTC/USDT", "manual")


async def until(check: Any, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):  # bounded: the parent's wait is bounded too
        while not check():
            await asyncio.sleep(0.02)


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return Decimal(0) if pos is None else pos.quantity


def intent(kind: OrderType, amount: Decimal, **extra: Any) -> OrderIntent:
    return OrderIntent(
        "manual", "binance", "BTC/USDT", Side.SELL, amount, kind, reduce_only=True, **extra
    )


async def second_stop(node: TradingNode, sl: str) -> None:
    """Once the smaller stop rests, rest a nearer one (49,500) for as much."""

    def smaller() -> Any:
        return next((o for o in node.orders.open.values()
                     if o.signal.get("replaces") == sl and o.venue_order_id), None)  # fmt: skip

    await until(lambda: smaller() is not None)
    new = smaller()
    near = await node.submit(
        intent(
            OrderType.STOP_LOSS, new.amount, trigger_price=Decimal("49500"), signal={"exit": "sl"}
        )
    )
    assert near.ok and near.order, near
    await until(lambda: bool(near.order.venue_order_id))
    doc = {"replacement": new.client_order_id, "second": near.order.client_order_id}
    print(json.dumps(doc), flush=True)


async def api_cancel(node: TradingNode, sl: str) -> None:
    """Once the smaller stop rests, cancel it as the API's cancel does."""

    def smaller() -> Any:
        return next((o for o in node.orders.open.values()
                     if o.signal.get("replaces") == sl and o.venue_order_id), None)  # fmt: skip

    await until(lambda: smaller() is not None)
    new = smaller()
    print(json.dumps({"replacement": new.client_order_id}), flush=True)
    await node.orders.cancel(new.client_order_id)


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    moment = sys.argv[2]
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
    target = await node.submit(intent(OrderType.LIMIT, qty, price=Decimal("50500")))
    stop = await node.submit(
        intent(OrderType.STOP_LOSS, qty, trigger_price=Decimal("49000"), signal={"exit": "sl"})
    )
    assert target.ok and stop.ok and target.order and stop.order, (target, stop)
    sl = stop.order.client_order_id
    venue = node.venues["binance"]
    send_cancel, cancel = venue.cancel, node.orders.cancel

    async def venue_cancel(order: Any) -> Any:
        if moment == "before_cancel" and order.client_order_id == sl:
            die({"killed": sl, "journal": node.storage.kv_get(PENDING_KEY)})
        report = await send_cancel(order)
        cancels_smaller = moment in ("emptied_cancel_sent", "api_cancel_sent")
        if cancels_smaller and order.signal.get("replaces") == sl:
            die({"killed": order.client_order_id, "journal": node.storage.kv_get(PENDING_KEY)})
        if moment == "cancel_sent" and order.client_order_id == sl:
            die({"killed": sl, "journal": node.storage.kv_get(PENDING_KEY)})
        return report

    async def node_cancel(cid: str) -> Any:
        report = await cancel(cid)
        if moment == "cancel_seen" and cid == sl:
            die({"killed": sl, "journal": node.storage.kv_get(PENDING_KEY)})
        return report

    venue.cancel = venue_cancel  # type: ignore[method-assign]
    node.orders.cancel = node_cancel  # type: ignore[method-assign]
    await until(lambda: all(o.venue_order_id for o in (target.order, stop.order)))
    print(json.dumps({"target": target.order.client_order_id, "stop": sl}), flush=True)
    if moment == "emptied_cancel_sent":
        await second_stop(node, sl)
    if moment == "api_cancel_sent":
        await api_cancel(node, sl)
    await live  # the parent fills part of the target; the shrink of the stop kills this process
    print(json.dumps({"unexpected": "not killed"}), flush=True)


asyncio.run(main())
