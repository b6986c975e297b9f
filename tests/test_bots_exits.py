"""Server-side exits of bot positions on the paper venue: they fire on moving prices, with
reduce-only orders through the order path, and hold across a restart of the node."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, desk, mid, quote, rig
from node_support import write_slice
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.storage.bot_rows import ExitPlanRows


async def _enter(r, **exits) -> str:
    body = {"bot_id": "alpha", "symbol": SYMBOL, "side": "buy", "score": "0.5"}
    v = await r.http.post("/api/v1/safety/validate-trade", json=body, headers=r.alpha)
    body["confirmation_id"] = v.json()["confirmation_id"]
    e = await r.http.post("/api/v1/trades/execute", json={**body, **exits}, headers=r.alpha)
    assert e.status_code == 201, e.text
    assert e.json()["exits"]["stop_loss_pct"] == exits.get("stop_loss_pct")
    return e.json()["client_order_id"]


def _exit_orders(node: TradingNode) -> list:
    return [o for o in node.orders.orders.values() if o.signal.get("exit")]


async def test_a_stop_loss_fires_with_a_reduce_only_order_and_closes_the_position(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    try:
        await _enter(r, stop_loss_pct="1", take_profit_pct="5")
        start = mid(r.node)
        await quote(r.node, start)  # fills the entry
        assert r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity > 0
        await quote(r.node, start * Decimal("0.995"))  # -0.5%: holds
        assert _exit_orders(r.node) == []
        await quote(r.node, start * Decimal("0.985"))  # -1.5%: the stop fires
        [order] = _exit_orders(r.node)
        assert (
            order.signal["exit"] == "stop_loss"
            and order.reduce_only
            and order.strategy_id == "alpha"
        )
        await quote(r.node, start * Decimal("0.985"))  # fills the exit
        assert r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == 0
        await quote(r.node, start * Decimal("0.98"))  # the plan is gone with the position
        assert desk(r.node).exits.plans == {}
        assert len(_exit_orders(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_trailing_stop_arms_then_fires_on_the_retrace(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        await _enter(r, trailing_activation_pct="1", trailing_distance_pct="0.5")
        start = mid(r.node)
        await quote(r.node, start)
        await quote(r.node, start * Decimal("0.997"))  # a dip before arming does nothing
        await quote(r.node, start * Decimal("1.02"))  # +2%: armed, best = +2%
        assert _exit_orders(r.node) == []
        await quote(r.node, start * Decimal("1.017"))  # -0.29% from the best: holds
        assert _exit_orders(r.node) == []
        await quote(r.node, start * Decimal("1.013"))  # -0.69% from the best: fires
        assert [o.signal["exit"] for o in _exit_orders(r.node)] == ["trailing_stop"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_exit_rules_survive_a_restart_and_close_the_position_after_it(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    await _enter(r, take_profit_pct="2", time_stop_s=3600)
    start = mid(r.node)
    await quote(r.node, start)
    qty = r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity
    assert qty > 0
    await quote(r.node, start * Decimal("1.01"))
    r.node._checkpoint(r.node.clock.now_ms())
    config, last_bar = r.node.config, r.node.market.candles[SYMBOL]
    await r.http.aclose()
    await r.node.stop()
    r.node.close()

    node = TradingNode(config)  # no API: the node itself loads and enforces the stored rules
    try:
        await node.start()
        await node.run()
        node.market.on_candle(last_bar)  # the market data feed carries on where it was
        [plan] = node.bot_exits.plans.values()
        assert plan.active and plan.take_profit_pct == Decimal("2")
        assert node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == qty
        await quote(node, start * Decimal("1.025"))  # +2.5%: take-profit
        [order] = _exit_orders(node)
        assert order.signal["exit"] == "take_profit" and order.reduce_only
        assert order.amount == qty and order.strategy_id == "alpha"
        await quote(node, start * Decimal("1.025"))  # the paper venue fills the exit
        assert node.orders.orders[order.client_order_id].status.value == "filled"
        assert node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == 0
        await quote(node, start * Decimal("1.03"))
        assert node.bot_exits.plans == {}
        assert ExitPlanRows(node.storage).exits() == []
    finally:
        node.close()


async def test_a_replay_feeds_candle_closes_to_the_exit_rules(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        await _enter(r, stop_loss_pct="0.3", take_profit_pct="0.3")
        await quote(r.node, mid(r.node))  # fills the entry
        entry = r.node.portfolio.positions[("paper", SYMBOL, "alpha")].avg_entry
        write_slice(data_dir, tmp_path / "btc.csv", 800)  # the data file grows; replay the rest
        await r.node.run()
        [order] = _exit_orders(r.node)
        assert order.signal["exit"] in ("stop_loss", "take_profit")
        moved = abs(Decimal(order.signal["price"]) - entry) / entry * 100
        assert moved >= Decimal("0.3")
        assert r.node.orders.orders[order.client_order_id].status.value == "filled"
        assert r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == 0
        assert r.node.bot_exits.plans == {}
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_time_stop_closes_the_position_once_it_has_been_held_that_long(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    try:
        await _enter(r, time_stop_s=150)
        start = mid(r.node)
        await quote(r.node, start)  # fills the entry; each quote is one minute later
        opened = r.node.portfolio.positions[("paper", SYMBOL, "alpha")].opened_ts
        assert opened > 0
        while r.node.clock.now_ms() - opened < 150_000:  # held under the time stop: no exit
            assert _exit_orders(r.node) == []
            await quote(r.node, start)  # a flat price: only the time can close it
        [order] = _exit_orders(r.node)
        assert order.signal["exit"] == "time_stop" and order.reduce_only
        await quote(r.node, start)
        assert r.node.portfolio.positions[("paper", SYMBOL, "alpha")].quantity == 0
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_trailing_high_set_soon_after_a_store_is_stored_at_a_later_price(
    tmp_path, data_dir
):
    # The best price is stored at most once a second: a new high inside that second was not
    # stored at all while the price then fell back without a new high, so a restart took the
    # older high back and the trailing stop sat lower.
    r = await rig(tmp_path, data_dir)
    try:
        await _enter(r, trailing_activation_pct="1", trailing_distance_pct="0.5")
        start = mid(r.node)
        await quote(r.node, start)
        await quote(r.node, start * Decimal("1.02"))  # armed: stored
        node, clock = r.node, r.node.clock
        t = clock.now_ms()
        high = start * Decimal("1.025")
        for dt, price in ((500, high), (5_000, start * Decimal("1.023"))):
            clock.advance_to(t + dt)
            half = Decimal("0.01")
            await node.on_quote(
                Quote(SYMBOL, t + dt, price - half, Decimal(5), price + half, Decimal(5))
            )
        assert _exit_orders(node) == []
        [doc] = ExitPlanRows(node.storage).exits()
        assert Decimal(doc["best"]) == high
    finally:
        await r.http.aclose()
        r.node.close()
