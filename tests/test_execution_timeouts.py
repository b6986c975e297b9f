"""Unfilled limit orders are cancelled after their strategy's timeout; entries may be replaced."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, limit_buy, make_rig
from node_support import paper_config, write_slice
from tradeguard.config import StrategyConfig
from tradeguard.execution.timeouts import OrderTimeouts, TimeoutPolicy
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.market import Candle, Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.strategies.base import Strategy, register
from tradeguard.venues.uniswap_v2.held import HeldSwaps

D = Decimal


async def test_limit_order_is_cancelled_only_once_its_timeout_has_passed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(5)})
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None

    rig.clock.ms += 4_999
    early = await timeouts.sweep()
    rig.clock.ms += 1
    due = await timeouts.sweep()

    assert early == []
    assert due == [placed.order.client_order_id]
    assert placed.order.status is OrderStatus.CANCELLED


async def test_orders_of_strategies_without_a_timeout_are_left_alone(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"other": TimeoutPolicy(1)})
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    rig.clock.ms += 60_000

    assert await timeouts.sweep() == []
    assert placed.order.status is OrderStatus.ACCEPTED


async def test_timed_out_entry_is_replaced_at_the_current_bid_for_its_unfilled_rest(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(5, replace=True)})
    placed = await rig.orders.submit(limit_buy(amount="0.003", price="49000"))
    assert placed.order is not None
    rig.venue.execute(placed.order.client_order_id, D("0.001"), D("49000"))
    rig.clock.ms += 5_000
    rig.market.on_quote(Quote(SYMBOL, rig.clock.ms, D("49500.123"), D(1), D("49510"), D(1)))

    await timeouts.sweep()

    assert placed.order.status is OrderStatus.CANCELLED
    [(old, new)] = timeouts.replaced
    assert old == placed.order.client_order_id
    replacement = rig.orders.orders[new]
    assert (replacement.amount, replacement.price) == (D("0.002"), D("49500.12"))
    assert replacement.signal["replaces"] == old
    assert rig.venue.submits[-1] == new  # through the normal order path


async def test_reduce_only_exit_is_cancelled_but_not_replaced(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(1, replace=True)})
    intent = dataclasses.replace(limit_buy(), reduce_only=True)
    placed = await rig.orders.submit(intent)
    assert placed.order is not None
    rig.clock.ms += 1_000

    await timeouts.sweep()

    assert placed.order.status is OrderStatus.CANCELLED
    assert list(timeouts.replaced) == []


async def test_cancel_lost_in_flight_is_not_resent_until_the_retry_delay_passes(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(1)}, cancel_retry_s=2)
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    rig.clock.ms += 1_000
    rig.venue.fail_cancel = 1

    assert await timeouts.sweep() == []
    assert placed.order.status is OrderStatus.ACCEPTED
    rig.clock.ms += 1_000
    assert timeouts.due(rig.clock.ms) == []
    rig.clock.ms += 1_000
    assert await timeouts.sweep() == [placed.order.client_order_id]


def test_policies_come_from_the_strategy_config() -> None:
    rows = [
        StrategyConfig(id="a", order_timeout_s=30, replace_on_timeout=True),
        StrategyConfig(id="b"),
    ]

    timeouts = OrderTimeouts.from_config(rows, orders=None, market=None, submit=_never)

    assert timeouts.policies == {"a": TimeoutPolicy(30.0, True)}


async def _never(intent: object) -> None:
    raise AssertionError("not called")


@register("rest_far_below")
class _RestFarBelow(Strategy):
    """Places one limit buy 1.5% under the first close (inside the risk price band)."""

    placed = False

    def on_candle(self, candle: Candle) -> None:
        if self.placed:
            return
        self.placed = True
        self.emit(
            OrderIntent(
                strategy_id=self.id, venue=self.venue, symbol=self.symbol, side=Side.BUY,
                amount=D("0.001"), type=OrderType.LIMIT,
                price=(candle.close * D("0.985")).quantize(D("0.01")),
            )
        )  # fmt: skip


async def test_replay_cancels_a_resting_order_once_its_timeout_passes_on_the_replay_clock(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data)
    strat = {"id": "rester", "kind": "rest_far_below", "venue": "paper", "symbol": "BTC/USDT"}
    cfg = cfg.model_copy(
        update={"strategies": [StrategyConfig(**strat, order_timeout_s=300)]}, deep=True
    )
    node = TradingNode(cfg)
    try:
        await node.run()
        [order] = node.storage.load_orders()
        assert order.status is OrderStatus.CANCELLED
        # Placed on the first 1-minute candle, cancelled at the first candle after 300 s.
        assert 300_000 <= order.updated_ts - order.created_ts <= 360_000
        assert node.timeouts.cancelled == set()  # no re-send was asked for
    finally:
        node.close()


async def test_the_cancelled_ids_are_kept_only_while_their_re_send_is_under_way(
    tmp_path: Path,
) -> None:
    # A long-lived node times out many orders; only a re-send under way needs its cancelled id
    # (the bot gate's cooldown waiver looks it up), so the record must not grow with them.
    rig = make_rig(tmp_path)
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(1, replace=True)})
    seen: list[bool] = []

    async def submit(intent: OrderIntent) -> object:
        seen.append(intent.signal["replaces"] in timeouts.cancelled)
        return await rig.orders.submit(intent)

    timeouts.submit = submit
    rig.market.on_quote(Quote(SYMBOL, rig.clock.ms, D("49000"), D(1), D("49010"), D(1)))
    assert (await rig.orders.submit(limit_buy())).order is not None
    for _ in range(40):  # each pass times out the last re-send and sends it again
        rig.clock.ms += 1_000
        assert len(await timeouts.sweep()) == 1

    assert len(seen) == 40 and all(seen)  # each re-send saw its own cancelled order
    assert len(timeouts.cancelled) == 0  # was 40: one per timed-out order, for life


async def test_an_order_whose_swap_the_venue_holds_on_chain_is_not_cancelled_for_its_age(
    tmp_path: Path,
) -> None:
    # Before: an order a venue held on chain (a DEX's swap sent, its answer not booked yet)
    # was cancelled by its timeout like any resting order, racing the swap it had sent; now it
    # is left to the chain's answer, and timed out as usual once that releases it.
    rig = make_rig(tmp_path)
    held = HeldSwaps(rig.venue.name, rig.clock.now_ms)
    rig.venue.held = held  # type: ignore[attr-defined]
    timeouts = OrderTimeouts(rig.orders, rig.market, {"s1": TimeoutPolicy(1)})
    placed = await rig.orders.submit(limit_buy())
    assert placed.order is not None
    cid = placed.order.client_order_id
    held.hold(cid, SYMBOL, "0xab", "receipt of 0xab not booked")
    rig.clock.ms += 60_000

    assert await timeouts.sweep() == []
    assert placed.order.status is OrderStatus.ACCEPTED and cid not in rig.orders.cancel_requested
    held.release(cid)
    assert await timeouts.sweep() == [cid]
