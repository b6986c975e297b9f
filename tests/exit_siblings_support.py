"""Builders for the exit tests: a bracket of two exits on the sandbox, a market move."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually

D = Decimal
KEY = ("binance", "BTC/USDT", "manual")


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return D(0) if pos is None else pos.quantity


def exit_intent(kind: OrderType, amount: Decimal, trigger: str) -> OrderIntent:
    return OrderIntent(
        "manual", "binance", "BTC/USDT", Side.SELL, amount, kind, reduce_only=True,
        trigger_price=D(trigger), signal={"exit": kind.value},
    )  # fmt: skip


async def bracket(node: TradingNode) -> tuple[str, str, Decimal]:
    """Buy 0.002 BTC, then rest a take-profit at 51,000 and a stop at 49,000, each for all of
    it, as two separate orders; return (take-profit id, stop id, the amount each sells)."""
    buy = await node.submit(
        OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
    )
    assert buy.ok, buy.reason
    await eventually(lambda: held(node) > D("0.0019"), 30)
    pos = node.portfolio.positions[KEY]
    qty = node.portfolio.sellable(pos)
    tp = await node.submit(exit_intent(OrderType.TAKE_PROFIT, qty, "51000"))
    sl = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
    assert tp.ok and sl.ok and tp.order is not None and sl.order is not None, (tp, sl)
    return tp.order.client_order_id, sl.order.client_order_id, qty


def move(ex: SandboxExchange, side: str, price: str, qty: str = "0.001") -> None:
    """Set the house book around `price` and trade through it (stops trigger on trades)."""
    p = D(price)
    bid, ask = (p - 10, p) if side == "BUY" else (p, p + 10)
    ex.set_book("BTCUSDT", bids=[(str(bid), "5")], asks=[(str(ask), "5")])
    ex.trade_through("BTCUSDT", side, price, qty)
