"""An armed trailing stop moves the bot's resting stop on the venue (cancel, then place again),
no more often than the venue's interval, and the moved stop closes the position at a gain."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from bots_support import SYMBOL, add_bot, desk, mid, quote
from test_api_support import bare_paper_config
from test_native_exits_paper import KEY, _candle, _enter, _qty
from tradeguard.bots.exits import ExitPlan
from tradeguard.bots.native_exits import native_intents, trailing_level
from tradeguard.model.enums import OrderStatus, OrderType
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import eventually

TICK = Decimal("0.01")


async def _node(tmp_path, data_dir, interval_s: int) -> TradingNode:
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [
        v.model_copy(update={"native_exits": True, "native_trailing_interval_s": interval_s})
        for v in cfg.venues
    ]
    node = build_node(cfg.model_copy(update={"venues": venues}))
    await node.start()
    await node.run()
    add_bot(node, "alpha")
    return node


def _legs(node: TradingNode) -> tuple:
    tp, sl = (node.orders.orders[c] for c in node.bot_exits.plans[KEY].native_orders)
    assert (tp.type, sl.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_LOSS)
    return tp, sl


def _floor(x: Decimal) -> Decimal:
    return (x / TICK).to_integral_value(ROUND_FLOOR) * TICK


async def test_the_trailing_stop_moves_the_resting_stop_and_it_sells_at_a_gain(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir, interval_s=120)
    try:
        await _enter(
            node, stop_loss_pct="2", take_profit_pct="10", trailing_activation_pct="1",
            trailing_distance_pct="1",
        )  # fmt: skip
        start = mid(node)
        await quote(node, start)  # the entry fills; the OCO rests at the fixed levels
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        tp0, sl0 = _legs(node)
        entry = node.portfolio.positions[("paper", SYMBOL, "alpha")].avg_entry

        await quote(node, start * Decimal("1.02"))  # armed: best 1.02, level 1.0098
        await eventually(
            lambda: (
                node.bot_exits.plans[KEY].native_orders
                != [tp0.client_order_id, sl0.client_order_id]
            )
        )
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        tp1, sl1 = _legs(node)
        plan = node.bot_exits.plans[KEY]
        level = _floor(plan.best * Decimal("0.99"))
        assert sl1.trigger_price == level == plan.native_stop > sl0.trigger_price
        assert tp1.trigger_price == tp0.trigger_price and sl1.amount == sl0.amount
        assert {tp0.status, sl0.status} == {OrderStatus.CANCELLED}
        assert len(await node.venues["paper"].fetch_open_orders()) == 2  # one pair, never two
        [alpha] = [b for b in desk(node).status()["bots"] if b["bot_id"] == "alpha"]
        assert alpha["exits"][0]["stop_on_venue"] == str(level)

        await quote(node, start * Decimal("1.03"))  # 60 s later: within the interval, no move
        assert node.bot_exits.plans[KEY].native_orders == [tp1.client_order_id, sl1.client_order_id]
        await quote(node, start * Decimal("1.03"))  # 120 s: moved to 1.03 less 1 %
        await eventually(lambda: node.bot_exits.plans[KEY].native_stop != level)
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        _, sl2 = _legs(node)
        assert sl2.trigger_price == _floor(node.bot_exits.plans[KEY].best * Decimal("0.99"))

        # The venue alone sees the fall (no price reaches the engine): its stop sells.
        _candle(node, start * Decimal("1.015"))  # through the moved stop: fired
        _candle(node, start * Decimal("1.015"))  # filled at this open
        assert _qty(node) == 0
        await eventually(lambda: node.bot_exits.plans == {})
        assert node.orders.orders[sl2.client_order_id].status is OrderStatus.FILLED
        [trade] = node.portfolio.closed_trades
        assert trade.exit_price > entry and trade.pnl > 0
    finally:
        node.close()


async def test_a_trailing_only_plan_places_a_stop_once_armed(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir, interval_s=60)
    try:
        await _enter(node, trailing_activation_pct="1", trailing_distance_pct="2")
        start = mid(node)
        await quote(node, start)
        plan = node.bot_exits.plans[KEY]
        assert plan.native and plan.native_orders == []  # nothing to rest before it arms
        await quote(node, start * Decimal("1.005"))
        assert node.bot_exits.plans[KEY].native_orders == []
        await quote(node, start * Decimal("1.02"))
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 1)
        [sl] = (node.orders.orders[c] for c in node.bot_exits.plans[KEY].native_orders)
        assert sl.type is OrderType.STOP_LOSS and sl.reduce_only
        assert sl.trigger_price == _floor(node.bot_exits.plans[KEY].best * Decimal("0.98"))
    finally:
        node.close()


async def test_with_interval_zero_the_trailing_stop_stays_in_the_engine(tmp_path, data_dir):
    node = await _node(tmp_path, data_dir, interval_s=0)
    try:
        await _enter(
            node, stop_loss_pct="2", take_profit_pct="10", trailing_activation_pct="1",
            trailing_distance_pct="1",
        )  # fmt: skip
        start = mid(node)
        await quote(node, start)
        await eventually(lambda: len(node.bot_exits.plans[KEY].native_orders) == 2)
        legs = list(node.bot_exits.plans[KEY].native_orders)
        await quote(node, start * Decimal("1.02"))
        await quote(node, start * Decimal("1.02"))
        assert node.bot_exits.plans[KEY].native_orders == legs
        await quote(node, start * Decimal("1.005"))  # retraced 1.5 %: the engine sells
        [order] = [o for o in node.orders.orders.values() if o.type is OrderType.MARKET
                   and o.signal.get("exit")]  # fmt: skip
        assert order.signal["exit"] == "trailing_stop" and order.reduce_only
        assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in legs)
    finally:
        node.close()


def test_levels_round_away_from_the_market_and_short_positions_trail_from_above():
    plan = ExitPlan("b", "v", "X/Y", trailing_distance_pct=Decimal("1"))
    plan.best, plan.armed = Decimal("100.123"), True
    assert trailing_level(plan, True, TICK) == Decimal("99.12")  # 99.12177 down
    plan.best = Decimal("99.877")
    assert trailing_level(plan, False, TICK) == Decimal("100.88")  # 100.87577 up
    plan.armed = False
    assert trailing_level(plan, True, TICK) is None
    plan.native_stop, plan.take_profit_pct = Decimal("101.50"), Decimal("5")
    tp, sl = native_intents(plan, Decimal("-2"), Decimal("100"), TICK)
    assert (tp.trigger_price, sl.trigger_price) == (Decimal("95.00"), Decimal("101.50"))
    assert tp.side.value == sl.side.value == "buy" and sl.amount == 2
