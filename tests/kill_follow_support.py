"""Builders for the kill follow-up tests: a sandbox node holding a position whose close rests
on the venue when the kill runs, its cancel refused, so the kill lists it under `closing`."""

from __future__ import annotations

from decimal import Decimal

from native_exits_support import add_alpha
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.orders import Result
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, eventually

D = Decimal
KEY = ("binance", "BTC/USDT", "manual")


def follow_node(cfg: Config) -> TradingNode:
    """A node on `cfg` that streams BTC/USDT (a registered bot trades it)."""
    node = TradingNode(cfg)
    add_alpha(node)
    return node


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return D(0) if pos is None else pos.quantity


async def kill_with_a_close_resting(node: TradingNode) -> tuple[str, dict]:
    """Buy 0.002 BTC, rest a reduce-only sell of 0.001 at 50,500, then kill with flatten while
    the venue refuses cancels; return the resting close's id and the kill's report."""
    buy = await node.submit(OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"),
                                        OrderType.MARKET))  # fmt: skip
    assert buy.ok, buy.reason
    await eventually(lambda: held(node) > D("0.0019"), 30)
    resting = OrderIntent("manual", "binance", "BTC/USDT", Side.SELL, D("0.001"),
                          OrderType.LIMIT, D("50500"), reduce_only=True)  # fmt: skip
    close = await node.submit(resting)
    assert close.ok and close.order is not None, close.reason
    venue = node.venues["binance"]

    async def refuse(order: object) -> None:
        raise RuntimeError("the venue is not answering cancels")

    venue.cancel = refuse  # type: ignore[method-assign]
    report = await node.kill(reason="follow-up test", by="pytest", flatten=True)
    del venue.cancel  # cancels reach the venue again
    return close.order.client_order_id, report


def expire_on_venue(ex: SandboxExchange, coid: str) -> None:
    """Have the venue end the resting order itself (EXPIRED), as a time in force would."""
    engine = ex.engine
    [order] = [o for o in engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT")
               if o.client_order_id == coid]  # fmt: skip
    result = Result(order=order)
    engine.close(order, "EXPIRED", ex.now_ms(), result)
    ex.publish(result, {"BTCUSDT"})  # the user stream tells the node


def alice_sells(ex: SandboxExchange) -> list[Decimal]:
    """What each sell alice's account sent executed, in the order they came."""
    acct = ex.account_id(ALICE_KEY)
    return [o.executed_qty for o in ex.engine.orders.values()
            if o.account_id == acct and o.side == "SELL"]  # fmt: skip
