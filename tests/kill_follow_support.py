"""Builders for the kill follow-up tests: a sandbox node holding a position whose close rests
on the venue when the kill runs, its cancel refused, so the kill lists it under `closing`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from native_exits_support import add_alpha
from tradeguard.config import Config
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.errors import VenueError
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


async def kill_and_flatten(node: TradingNode) -> tuple[str, dict]:
    """Once BTC/USDT is at 50,000: `kill_with_a_close_resting`, then wait until the kill's own
    flatten has filled (0.001 left, under the resting close)."""
    await eventually(lambda: node.market.mid("BTC/USDT") == D(50000), 30)
    listed, report = await kill_with_a_close_resting(node)
    await eventually(lambda: held(node) < D("0.0011"), 30)
    return listed, report


def follow_up(node: TradingNode) -> list[dict]:
    """The last kill's follow-up entries, as its status shows them."""
    last = node.risk.last_kill or {}
    return list(last.get("follow_up") or [])


def take_part(ex: SandboxExchange, qty: str) -> None:
    """A bid of `qty` at 50,500 takes that much of the resting close; the book then returns
    to its quotes around 50,000."""
    ex.set_book("BTC/USDT", bids=[("50500", qty), ("49999", "1")], asks=[("50501", "1")])
    ex.set_book("BTC/USDT", bids=[("49999", "1"), ("49998", "2")],
                asks=[("50001", "1"), ("50002", "2")])  # fmt: skip


def end_with_coins_gone(ex: SandboxExchange, coid: str, node: TradingNode) -> None:
    """The venue expires the resting close and, in the same instant, the BTC alice held leaves
    the account (a withdrawal): every sale of it is refused. The venue's balance call fails
    too, so the follow-up sells what the node's stored copy says is held."""

    async def no_balances() -> list[Any]:
        raise VenueError("binance", "balance endpoint unavailable")

    node.venues["binance"].fetch_balances = no_balances  # type: ignore[method-assign]
    order = next(o for o in ex.engine.orders.values() if o.client_order_id == coid)
    result = Result(order=order)
    ex.engine.close(order, "EXPIRED", ex.now_ms(), result)
    ex.engine.accounts[ex.account_id(ALICE_KEY)].balances["BTC"].free = D(0)
    ex.publish(result, {"BTCUSDT"})


async def child_node() -> tuple[TradingNode, asyncio.Task[Any]]:
    """A crash child's node on the config at argv[1], trading live with BTC/USDT priced."""
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    node = follow_node(cfg)
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=120))
    await eventually(lambda: node.market.mid("BTC/USDT") is not None, 30)
    return node, live


def die_once_sent(
    node: TradingNode, dies: Callable[[Any], bool], says: Callable[[Any], dict[str, str]]
) -> None:
    """SIGKILL this process as soon as the venue has taken an order `dies` picks, before the
    node hears back; print `says(order)` first."""
    venue = node.venues["binance"]
    send = venue.submit

    async def send_then_die(order: Any) -> Any:
        if not dies(order):
            return await send(order)
        await send(order)
        print(json.dumps(says(order)), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    venue.submit = send_then_die  # type: ignore[method-assign]


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
