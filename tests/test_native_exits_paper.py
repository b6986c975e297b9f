"""Bots' venue exits on a paper node: the OCO rests on the paper venue, the candles trigger it,
the plan ends when the position closes, and closing another way cancels what rests."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bots_support import SYMBOL, add_bot, desk, mid, quote
from test_api_support import bare_paper_config
from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.node import TradingNode, build_node
from tradeguard.node.checkpoint import checkpoint
from tradeguard.sandbox.testing import eventually

KEY = f"paper|{SYMBOL}|alpha"
POS = ("paper", SYMBOL, "alpha")


async def _node(tmp_path, data_dir, native: bool = True) -> TradingNode:
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [v.model_copy(update={"native_exits": native}) for v in cfg.venues]
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    await node.run()
    add_bot(node, "alpha")
    return node


async def _enter(node: TradingNode, **exits: str) -> None:
    d = desk(node)
    ask = {"symbol": SYMBOL, "side": "buy", "score": "0.5"}
    conf = d.validate("alpha", ask)["confirmation_id"]
    trade = await d.execute("alpha", {**ask, "confirmation_id": conf, **exits}, by="test")
    assert trade["status"] == "submitted", trade


def _candle(node: TradingNode, price: Decimal) -> None:
    """Only the venue sees this bar: no price reaches the exit rules."""
    last = node.market.candles[SYMBOL]
    bar = replace(last, ts=last.ts + 60_000, open=price, high=price, low=price, close=price)
    node.clock.advance_to(bar.close_ts)
    node.market.candles[SYMBOL] = bar
    node.venues["paper"].on_candle(bar)


def _qty(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(POS)
    return Decimal(0) if pos is None else pos.quantity


async def test_the_stop_of_a_resting_oco_closes_the_position_and_ends_the_plan_at_once(
    tmp_path, data_dir
):
    node = await _node(tmp_path, data_dir)
    try:
        await _enter(node, stop_loss_pct="1", take_profit_pct="5")
        start = mid(node)
        await quote(node, start)  # fills the entry; the plan places its OCO
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        tp, sl = (node.orders.orders[c] for c in node.bot_exits.plans[KEY].native_orders)
        assert (tp.type, sl.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)
        assert tp.oco_group == sl.oco_group and sl.amount == _qty(node)
        [alpha] = [b for b in desk(node).status()["bots"] if b["bot_id"] == "alpha"]
        assert alpha["exits"][0]["on_venue"] == [tp.client_order_id, sl.client_order_id]
        _candle(node, start * Decimal("0.985"))  # through the stop: triggered at the close
        assert _qty(node) > 0
        _candle(node, start * Decimal("0.984"))  # filled at this bar's open
        assert _qty(node) == 0
        await eventually(lambda: node.bot_exits.plans == {})  # no price needed
        assert node.orders.orders[sl.client_order_id].status is OrderStatus.FILLED
        assert node.orders.orders[tp.client_order_id].status is OrderStatus.CANCELLED
    finally:
        node.close()


async def test_closing_the_position_another_way_cancels_the_resting_exits_first(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir)
    try:
        await _enter(node, stop_loss_pct="1", take_profit_pct="5")
        start = mid(node)
        await quote(node, start)
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        legs = list(node.bot_exits.plans[KEY].native_orders)
        [closing] = await desk(node).close_positions("alpha")
        assert closing["status"] == "submitted", closing
        assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in legs)
        await quote(node, start)  # fills the close
        assert _qty(node) == 0
        await eventually(lambda: node.bot_exits.plans == {})
        assert await node.venues["paper"].fetch_open_orders() == []
    finally:
        node.close()


async def test_a_time_stop_cancels_the_venue_exits_before_it_sells(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir)
    try:
        await _enter(node, stop_loss_pct="1", take_profit_pct="5", time_stop_s=150)
        start = mid(node)
        await quote(node, start)
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        legs = list(node.bot_exits.plans[KEY].native_orders)

        def time_exits() -> list:
            return [o for o in node.orders.orders.values() if o.signal.get("exit") == "time_stop"]

        for _ in range(4):  # a minute a bar: the time stop fires on the third
            await quote(node, start)
            if time_exits():
                break
        [order] = time_exits()
        assert order.type is OrderType.MARKET and order.reduce_only
        assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in legs)
        await quote(node, start)
        assert _qty(node) == 0 and order.status is OrderStatus.FILLED
        assert await node.venues["paper"].fetch_open_orders() == []
    finally:
        node.close()


async def test_with_native_exits_off_the_engine_keeps_enforcing_the_stop(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir, native=False)
    try:
        await _enter(node, stop_loss_pct="1", take_profit_pct="5")
        start = mid(node)
        await quote(node, start)
        assert node.bot_exits.plans[KEY].native is False
        assert not any(o.type.is_trigger for o in node.orders.orders.values())
        await quote(node, start * Decimal("0.985"))
        [order] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
        assert order.signal["exit"] == "stop_loss" and order.type is OrderType.MARKET
    finally:
        node.close()


async def test_a_stop_fired_before_a_restart_fills_after_it_without_crossing_again(
    tmp_path, data_dir
):
    node = await _node(tmp_path, data_dir)
    try:
        await _enter(node, stop_loss_pct="1", take_profit_pct="5")
        start = mid(node)
        await quote(node, start)
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        sl = node.bot_exits.plans[KEY].native_orders[1]
        _candle(node, start * Decimal("0.985"))  # through the stop: fired, fills at the next open
        assert _qty(node) > 0 and list(node.venues["paper"].triggered_state()) == [sl]
        checkpoint(node, node.clock.now_ms())  # the commit the process dies after
        last = node.market.candles[SYMBOL]
    finally:
        node.close()

    again = await _node(tmp_path, data_dir)
    try:
        assert list(again.venues["paper"].triggered_state()) == [sl]
        again.market.candles[SYMBOL] = last
        _candle(again, start)  # back above the stop: only a stop still fired sells here
        assert _qty(again) == 0
        assert again.orders.orders[sl].status is OrderStatus.FILLED
    finally:
        again.close()
