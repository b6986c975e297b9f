"""The paper venue's reduce-only cap reads the position the exit belongs to (its strategy's),
not the account's net position on the symbol: two strategies trade one symbol."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from bots_support import SYMBOL, mid, quote
from test_api_support import bare_paper_config
from test_paper_stops import MIN, SPOT, Recorder, candle
from tradeguard.clock import SimulatedClock
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.market import Candle
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue


def account() -> tuple[PaperVenue, Recorder, SimulatedClock]:
    """A paper account holding 1 BTC from before, priced at 100."""
    clock = SimulatedClock(0)
    v = PaperVenue(
        "paper", {"BTC/USDT": SPOT}, {"USDT": D(10_000), "BTC": D(1)}, clock,
        FillConfig(slippage_bps=D(0), impact_bps_per_pct=D(0), fill_at="next_open"),
    )  # fmt: skip
    rec = Recorder()
    v.set_listener(rec)
    v.on_candle(candle(0, "100", "101", "99", "100"))
    clock.advance_to(MIN)
    return v, rec, clock


def market(cid: str, strategy: str, side: Side, amount: str) -> Order:
    return Order(cid, strategy, "paper", "BTC/USDT", side, OrderType.MARKET, D(amount))


def exit_order(cid: str, type_: OrderType, trigger: str, amount: str) -> Order:
    return Order(
        cid, "a", "paper", "BTC/USDT", Side.SELL, type_, D(amount), reduce_only=True,
        trigger_price=D(trigger),
    )  # fmt: skip


async def fill_at_open(v: PaperVenue, clock: SimulatedClock, *orders: Order) -> None:
    """Send market `orders` and fill them at the next bar's open, 100."""
    for order in orders:
        await v.submit(order)
    bar = clock.now_ms() // MIN
    clock.advance_to((bar + 1) * MIN)
    v.on_candle(candle(bar, "100", "101", "99", "100"))


async def test_a_take_profit_is_not_capped_by_what_another_strategy_sold() -> None:
    # a holds 0.3 and rests a take-profit for it; b sells 0.2 of the coins held before. The
    # venue capped a's take-profit at the net 0.1: it sold 0.1 and expired the rest, leaving
    # a 0.2 long with no exit.
    v, rec, clock = account()
    await fill_at_open(v, clock, market("a-buy", "a", Side.BUY, "0.3"))
    tp = await v.submit(exit_order("tp", OrderType.TAKE_PROFIT, "105", "0.3"))
    assert tp.status is OrderStatus.ACCEPTED, tp.reason
    await fill_at_open(v, clock, market("b-sale", "b", Side.SELL, "0.2"))
    assert v.net_position("BTC/USDT") == D("0.1")
    clock.advance_to(4 * MIN)
    v.on_candle(candle(3, "104", "106", "104", "105"))  # fires at this close
    clock.advance_to(5 * MIN)
    v.on_candle(candle(4, "105", "106", "105", "105"))
    assert [(f.client_order_id, f.amount) for f in rec.fills if f.client_order_id == "tp"] == [
        ("tp", D("0.3"))
    ]
    assert rec.last("tp").status is OrderStatus.FILLED


async def test_a_take_profit_placed_after_another_strategy_sold_is_accepted() -> None:
    v, _, clock = account()
    await fill_at_open(
        v, clock, market("a-buy", "a", Side.BUY, "0.3"), market("b-sale", "b", Side.SELL, "0.2")
    )
    tp = await v.submit(exit_order("tp", OrderType.TAKE_PROFIT, "105", "0.3"))
    assert tp.status is OrderStatus.ACCEPTED, tp.reason


async def test_two_exits_of_one_strategy_fired_together_sell_none_of_anothers_coins() -> None:
    # a holds 0.3 with a stop and a take-profit each for all of it; b holds 0.2. One candle
    # through both prices: the venue let both sell up to the net 0.5, a sold 0.5.
    v, rec, clock = account()
    await fill_at_open(
        v, clock, market("a-buy", "a", Side.BUY, "0.3"), market("b-buy", "b", Side.BUY, "0.2")
    )
    await v.submit(exit_order("sl", OrderType.STOP_LOSS, "95", "0.3"))
    await v.submit(exit_order("tp", OrderType.TAKE_PROFIT, "105", "0.3"))
    clock.advance_to(3 * MIN)
    v.on_candle(candle(2, "100", "106", "94", "100"))  # through both
    clock.advance_to(4 * MIN)
    v.on_candle(candle(3, "100", "101", "99", "100"))
    sold = sum((f.amount for f in rec.fills if f.client_order_id in ("sl", "tp")), D(0))
    assert sold == D("0.3")
    assert v.net_position("BTC/USDT") == D("0.2")  # b's coins are still there


async def test_a_restored_venue_caps_an_exit_by_its_strategys_part_of_the_net() -> None:
    # restored after a restart: a holds 0.3, b sold 0.2, the net is 0.1
    v, _, _ = account()
    v.restore_position("BTC/USDT", D("0.1"), {"a": D("0.3"), "b": D("-0.2")})
    tp = await v.submit(exit_order("tp", OrderType.TAKE_PROFIT, "105", "0.3"))
    assert tp.status is OrderStatus.ACCEPTED, tp.reason
    with pytest.raises(DefinitiveVenueError, match="REDUCE_ONLY_REJECTED"):
        await v.submit(exit_order("more", OrderType.TAKE_PROFIT, "105", "0.4"))


def held_before(tmp_path: Path, data_dir: Path) -> Config:
    """A paper config whose account holds 0.01 BTC from before."""
    cfg = bare_paper_config(tmp_path, data_dir)
    venues = [v.model_copy(update={"balances": {**v.balances, "BTC": D("0.01")}})
              for v in cfg.venues]  # fmt: skip
    return cfg.model_copy(update={"venues": venues})


async def a_buys_b_sells(node: TradingNode, sold: str) -> D:
    """Replay the data, then strategy a buys 0.003 and strategy b sells `sold` at the last
    mid; return that mid."""
    await node.run()
    start = mid(node)
    for strategy, side, amount in (("a", Side.BUY, "0.003"), ("b", Side.SELL, sold)):
        sent = await node.submit(
            OrderIntent(strategy, "paper", SYMBOL, side, D(amount), OrderType.MARKET)
        )
        assert sent.ok and sent.order is not None, sent.reason
        await quote(node, start)
        await eventually(lambda o=sent.order: o.status is OrderStatus.FILLED)
    return start


async def test_a_restart_gives_the_paper_venue_each_strategys_position_back(tmp_path, data_dir):
    # a bought 0.003, b sold 0.002 of the coins held before; after a restart the venue had
    # only the net 0.1 back, and refused a's take-profit for what a holds
    cfg = held_before(tmp_path, data_dir)
    node = build_node(cfg)
    await node.start()
    try:
        start = await a_buys_b_sells(node, "0.002")
    finally:
        await node.stop()
        node.close()
    node = build_node(cfg)
    await node.start()
    try:
        paper = node.venues["paper"]
        assert paper.net_position(SYMBOL) == D("0.001")
        ts = node.clock.now_ms() // MIN * MIN
        paper.on_candle(Candle(SYMBOL, ts, start, start, start, start, D(100)))  # a price
        tp = Order(
            "tp-after-restart", "a", "paper", SYMBOL, Side.SELL, OrderType.TAKE_PROFIT,
            D("0.003"), reduce_only=True, trigger_price=start * 2,
        )  # fmt: skip
        report = await paper.submit(tp)
        assert report.status is OrderStatus.ACCEPTED, report.reason
    finally:
        await node.stop()
        node.close()


async def two_strategies(tmp_path: Path, data_dir: Path) -> tuple[TradingNode, D]:
    """A started paper node whose account held 0.01 BTC before: strategy a bought 0.003,
    strategy b sold 0.004 of the coins held before; the net of the two is -0.001."""
    node = build_node(held_before(tmp_path, data_dir))
    await node.start()
    start = await a_buys_b_sells(node, "0.004")
    assert node.portfolio.net_quantity("paper", SYMBOL) < 0
    return node, start


async def test_the_risk_engine_takes_an_exit_another_strategys_sale_left_short_of_the_net(
    tmp_path, data_dir
):
    # a holds 0.003 and places its take-profit; b's sale of 0.004 made the account's net
    # -0.001. The risk engine checked reduce-only against that net and refused a's exit
    # (REDUCE_ONLY_WOULD_GROW): a's position was left with no exit at all.
    node, start = await two_strategies(tmp_path, data_dir)
    try:
        held_a = node.portfolio.sellable(node.portfolio.positions[("paper", SYMBOL, "a")])
        assert held_a > 0
        tp = await node.submit(
            OrderIntent(
                "a", "paper", SYMBOL, Side.SELL, held_a, OrderType.TAKE_PROFIT,
                reduce_only=True, trigger_price=start * 2,
            )
        )  # fmt: skip
        assert tp.ok, f"{tp.code} {tp.reason}"
        more = await node.submit(
            OrderIntent(
                "a", "paper", SYMBOL, Side.SELL, held_a + D("0.001"), OrderType.TAKE_PROFIT,
                reduce_only=True, trigger_price=start * 2,
            )
        )  # fmt: skip
        assert more.code == "REDUCE_ONLY_WOULD_GROW"  # past a's own position: still refused
    finally:
        await node.stop()
        node.close()


async def test_kill_flatten_closes_two_strategies_holding_opposite_sides(tmp_path, data_dir):
    # `tradeguard kill --flatten` (what the halted buy-back tells the operator to run) sent one
    # reduce-only close per strategy position; the risk engine let a flatten order through only
    # if it shrank the account's net -0.001: a's sale of 0.003 and b's buy of 0.004 were both
    # refused and both positions stayed open.
    node, start = await two_strategies(tmp_path, data_dir)
    try:
        report = await node.kill(reason="close everything", by="pytest", flatten=True)
        assert report["failed"] == []
        assert sorted(report["closed_positions"]) == ["paper:BTC/USDT", "paper:BTC/USDT"]
        await quote(node, start)
        await eventually(lambda: node.orders.open == {})
        left = {k[2]: p.quantity for k, p in node.portfolio.positions.items()}
        step = D("0.00001")
        assert all(abs(q) < step for q in left.values()), left
    finally:
        await node.stop()
        node.close()
