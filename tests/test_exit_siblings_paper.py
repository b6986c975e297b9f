"""A strategy's stop-loss and take-profit resting as two reduce-only orders on a paper node, each
for the whole position, and one candle whose range reaches both prices: the paper venue fires
the stop (its stated rule: stops first, the bar cannot tell which price came first) and cancels
the take-profit, as the position it would reduce is taken by the stop. The position ends flat,
never short."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from bots_support import SYMBOL, mid, quote
from test_api_support import bare_paper_config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.events import Event
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import eventually

D = Decimal
KEY = ("paper", SYMBOL, "manual")


def held(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(KEY)
    return D(0) if pos is None else pos.quantity


def bar(node: TradingNode, open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> None:
    """The next one-minute candle, to the paper venue only: no strategy sees it."""
    last = node.market.candles[SYMBOL]
    candle = replace(last, ts=last.ts + 60_000, open=open_, high=high, low=low, close=close)
    node.clock.advance_to(candle.close_ts)
    node.market.candles[SYMBOL] = candle
    node.venues["paper"].on_candle(candle)


def exit_intent(kind: OrderType, amount: Decimal, trigger: Decimal) -> OrderIntent:
    return OrderIntent(
        "manual", "paper", SYMBOL, Side.SELL, amount, kind, reduce_only=True,
        trigger_price=trigger, signal={"exit": kind.value},
    )  # fmt: skip


async def test_one_candle_through_both_exits_fills_the_stop_and_cancels_the_take_profit(
    tmp_path, data_dir
):
    cfg = bare_paper_config(tmp_path, data_dir)
    # BTC held before the node bought any: the venue then takes both sells of the whole position
    venues = [v.model_copy(update={"balances": {**v.balances, "BTC": D("0.01")}})
              for v in cfg.venues]  # fmt: skip
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    try:
        await node.run()
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        start = mid(node)
        buy = await node.submit(
            OrderIntent("manual", "paper", SYMBOL, Side.BUY, D("0.01"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await quote(node, start)
        await eventually(lambda: held(node) == D("0.01"))
        tp = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.01"), start * D("1.02")))
        sl = await node.submit(exit_intent(OrderType.STOP_LOSS, D("0.01"), start * D("0.98")))
        assert tp.ok and sl.ok and tp.order is not None and sl.order is not None, (tp, sl)
        tp_id, sl_id = tp.order.client_order_id, sl.order.client_order_id
        bar(node, start, start * D("1.03"), start * D("0.97"), start)  # reaches both prices
        bar(node, start * D("0.97"), start * D("0.97"), start * D("0.97"), start * D("0.97"))
        await eventually(lambda: node.orders.orders[sl_id].status is OrderStatus.FILLED)
        await asyncio.sleep(0.1)  # what the fills set off has run
        assert node.orders.orders[tp_id].status is OrderStatus.CANCELLED
        assert node.orders.orders[tp_id].filled == 0
        assert "reduce-only" in node.orders.orders[tp_id].reason
        assert held(node) == 0 and node.venues["paper"].net_position(SYMBOL) == 0
        assert [e.kind for e in events] == []  # no overshoot, nothing trimmed
        assert list(node.orders.open) == []
    finally:
        await node.stop()
        node.close()


async def test_take_profits_one_candle_fires_never_sell_past_the_position(tmp_path, data_dir):
    # Two reduce-only take-profits, each within the position but together more than it, and
    # one candle through both: the second fired for all of it though the first left it less
    # to close, and the venue sold past flat (a reduce-only order grew the short side).
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [v.model_copy(update={"balances": {**v.balances, "BTC": D("0.01")}})
              for v in cfg.venues]  # fmt: skip
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    try:
        await node.run()
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        start = mid(node)
        buy = await node.submit(
            OrderIntent("manual", "paper", SYMBOL, Side.BUY, D("0.01"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await quote(node, start)
        await eventually(lambda: held(node) == D("0.01"))
        near = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.006"), start * D("1.02")))
        far = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.006"), start * D("1.025")))
        assert near.ok and far.ok and near.order is not None and far.order is not None
        near_id, far_id = near.order.client_order_id, far.order.client_order_id
        bar(node, start, start * D("1.03"), start, start * D("1.03"))  # reaches both prices
        top = start * D("1.03")
        bar(node, top, top, top, top)
        await eventually(lambda: node.orders.orders[near_id].status is OrderStatus.FILLED)
        await eventually(lambda: not node.orders.orders[far_id].is_open)
        await asyncio.sleep(0.1)  # what the fills set off has run
        assert node.venues["paper"].net_position(SYMBOL) == 0
        assert held(node) == 0
        assert node.orders.orders[far_id].filled == D("0.004")
        assert not [e for e in events if e.kind == "exit.overshoot"]
    finally:
        await node.stop()
        node.close()


async def test_a_resting_target_never_sells_what_a_stop_sold_in_the_same_candle(tmp_path, data_dir):
    # A stop fired, filled at the next candle's open, and that candle then rose through a
    # reduce-only limit target: the target sold the whole position again, past flat.
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [v.model_copy(update={"balances": {**v.balances, "BTC": D("0.01")}})
              for v in cfg.venues]  # fmt: skip
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    try:
        await node.run()
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        start = mid(node)
        buy = await node.submit(
            OrderIntent("manual", "paper", SYMBOL, Side.BUY, D("0.01"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await quote(node, start)
        await eventually(lambda: held(node) == D("0.01"))
        target = await node.submit(OrderIntent(
            "manual", "paper", SYMBOL, Side.SELL, D("0.01"), OrderType.LIMIT, start * D("1.02"),
            reduce_only=True,
        ))  # fmt: skip
        sl = await node.submit(exit_intent(OrderType.STOP_LOSS, D("0.01"), start * D("0.98")))
        assert target.ok and sl.ok and target.order is not None and sl.order is not None
        target_id, sl_id = target.order.client_order_id, sl.order.client_order_id
        low = start * D("0.97")
        bar(node, start, start, low, low)  # fires the stop
        bar(node, low, start * D("1.03"), low, start * D("1.03"))  # its open, then the target
        await eventually(lambda: node.orders.orders[sl_id].status is OrderStatus.FILLED)
        await asyncio.sleep(0.1)  # what the fills set off has run
        assert node.venues["paper"].net_position(SYMBOL) == 0
        assert held(node) == 0
        assert node.orders.orders[target_id].filled == 0
        assert not [e for e in events if e.kind == "exit.overshoot"]
    finally:
        await node.stop()
        node.close()


async def test_a_take_profit_replacement_a_fired_stop_cancels_raises_no_alert(tmp_path, data_dir):
    # A near take-profit filled part of the position and the node shrank the far one and the
    # stop to what was left (replacements). One candle then reached the stop and the far
    # take-profit: the venue fired the stop and cancelled the take-profit, as the stop closes
    # the position. The node took that cancel for a refusal: a critical
    # `exit.replace_refused` and the take-profit placed again, to sell what the stop sold.
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [v.model_copy(update={"balances": {**v.balances, "BTC": D("0.02")}})
              for v in cfg.venues]  # fmt: skip
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    try:
        await node.run()
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        start = mid(node)
        buy = await node.submit(
            OrderIntent("manual", "paper", SYMBOL, Side.BUY, D("0.01"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await quote(node, start)
        await eventually(lambda: held(node) == D("0.01"))
        near = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.006"), start * D("1.02")))
        far = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.01"), start * D("1.04")))
        sl = await node.submit(exit_intent(OrderType.STOP_LOSS, D("0.01"), start * D("0.98")))
        assert near.ok and far.ok and sl.ok and near.order is not None
        up = start * D("1.025")
        bar(node, start, up, start, up)  # fires the near take-profit
        await quote(node, up)  # which fills at this open
        await eventually(lambda: held(node) == D("0.004"))

        def replacements() -> list:
            return [o for o in node.orders.open.values() if o.signal.get("replaces")]

        await eventually(lambda: len(replacements()) == 2)  # the far take-profit and the stop
        tp_new = next(o for o in replacements() if o.type is OrderType.TAKE_PROFIT)
        assert tp_new.amount == D("0.004")
        low = start * D("0.97")
        bar(node, up, start * D("1.05"), low, low)  # through both
        await node.on_quote(Quote(SYMBOL, node.clock.now_ms(), low, D(5), low + 1, D(5)))
        await eventually(lambda: not tp_new.is_open)
        await asyncio.sleep(1.5)  # past the first retry of a refused replacement
        assert not [e for e in events if e.kind == "exit.replace_refused"]
        assert [o.type for o in node.orders.open.values()] == [OrderType.STOP_LOSS]  # fired
        await quote(node, low)  # the stop fills at this open
        await eventually(lambda: held(node) == 0)
        await asyncio.sleep(0.1)
        assert list(node.orders.open) == [] and node.venues["paper"].net_position(SYMBOL) == 0
        assert not [e for e in events if e.kind in ("exit.replace_refused", "exit.overshoot")]
    finally:
        await node.stop()
        node.close()
