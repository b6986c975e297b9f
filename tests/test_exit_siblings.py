"""A strategy's stop-loss and take-profit resting as two orders each for the whole position: once
one fills, the node cancels or shrinks the other (one-cancels-other on the engine side), via the
real ccxt client against the Binance-compatible sandbox."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from exit_siblings_support import KEY, bracket, exit_intent, held, move
from native_exits_support import live_alpha
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.events import Event
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.exit_siblings import _overshoot, resume_replacements
from tradeguard.sandbox.orders import Result
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")

D = Decimal


class HeldCancels:
    """Holds the venue's cancels until `land`: each is on its way while the market moves."""

    def __init__(self, venue: object) -> None:
        self.cancel = venue.cancel  # type: ignore[attr-defined]
        self.gate = asyncio.Event()
        self.senders: list[asyncio.Task[object]] = []
        venue.cancel = self.held  # type: ignore[attr-defined]

    async def held(self, order: Order) -> object:
        task = asyncio.current_task()
        if task is not None:
            self.senders.append(task)
        await self.gate.wait()
        return await self.cancel(order)

    async def land(self) -> None:
        """Let the held cancels through, and wait until the checks that sent them are done."""
        assert self.senders, "no cancel was sent"
        self.gate.set()
        me = asyncio.current_task()
        senders = [t for t in self.senders if t is not me]
        await asyncio.wait_for(asyncio.gather(*senders, return_exceptions=True), 30)
        assert all(t.done() for t in self.senders if t is not me)


async def test_a_filled_take_profit_cancels_the_resting_stop_so_nothing_sells_twice(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        tp, sl, _ = await bracket(node)
        move(ex, "BUY", "51500")  # the take-profit fires and sells all of it
        await eventually(lambda: node.orders.orders[tp].status is OrderStatus.FILLED, 30)
        await eventually(lambda: not node.orders.orders[sl].is_open, 30)
        move(ex, "SELL", "48500")  # fires the stop, if it still rests
        await eventually(lambda: node.market.mid("BTC/USDT") == D("48505"), 30)
        await asyncio.sleep(1)  # a stop the move fired has filled by now
        assert held(node) >= 0, f"sold twice: the stop {sl} left a short of {held(node)}"
        assert held(node) < D("0.00001")  # the fee's dust at most
        assert node.orders.orders[sl].status is OrderStatus.CANCELLED
        assert node.orders.orders[sl].filled == 0
        assert list(node.orders.open) == []
        assert [o.status for o in ex.engine.orders.values() if o.client_order_id == sl] == [
            "CANCELED"
        ]


async def test_a_partial_fill_of_the_target_shrinks_the_stop_to_what_is_left(tmp_path):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, qty, OrderType.LIMIT, D("50500"),
            reduce_only=True,
        ))  # fmt: skip
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert target.ok and stop.ok and target.order and stop.order, (target, stop)
        sl = stop.order.client_order_id
        # A bid of 0.001 at 50,500 takes part of the target; the book then goes back.
        ex.set_book("BTCUSDT", bids=[("50500", "0.001"), ("49999", "1")], asks=[("50501", "1")])
        ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
        await eventually(lambda: node.orders.orders[sl].status is OrderStatus.CANCELLED, 30)
        left = held(node)
        assert D("0.0009") < left < D("0.001")

        def replacement() -> list:
            return [o for o in node.orders.open.values() if o.signal.get("replaces") == sl]

        await eventually(lambda: len(replacement()) == 1, 30)
        new = replacement()[0]
        await eventually(lambda: new.venue_order_id != "", 30)  # resting on the venue
        assert (new.type, new.trigger_price, new.reduce_only) == (
            OrderType.STOP_LOSS, D("49000"), True,
        )  # fmt: skip
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY]) <= left
        move(ex, "SELL", "48500")  # the smaller stop sells what is left, and no more
        await eventually(lambda: held(node) < D("0.00001"), 30)
        await asyncio.sleep(0.5)
        assert held(node) >= 0


@pytest.mark.parametrize("mode", ["close", "report"])
async def test_both_exits_filling_before_the_cancel_are_reported_and_the_excess_bought_back(
    tmp_path, mode: str
):
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        node.config.node.exit_overshoot = mode  # type: ignore[assignment]
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        tp, sl, qty = await bracket(node)
        cancels = HeldCancels(node.venues["binance"])
        move(ex, "BUY", "51500")  # the take-profit fills ...
        await eventually(lambda: node.orders.orders[tp].status is OrderStatus.FILLED, 30)
        move(ex, "SELL", "48500")  # ... and the stop fires before its cancel arrives
        await eventually(lambda: node.orders.orders[sl].status is OrderStatus.FILLED, 30)
        await eventually(lambda: any(e.kind == "exit.overshoot" for e in events), 30)
        report = next(e for e in events if e.kind == "exit.overshoot")
        assert report.severity == "critical"
        assert report.data["orders"] == [tp, sl]
        assert D(report.data["excess"]) == qty and report.data["closing"] is (mode == "close")
        if mode == "report":  # left as it is: the short stays, reported, for the operator
            await cancels.land()
            assert held(node) == -qty
            assert not [
                o for o in node.orders.orders.values() if o.signal.get("exit") == "overshoot"
            ]
            return
        # The excess is bought back at market: the position ends flat, not short.
        await eventually(lambda: held(node) == 0, 30)
        back = [o for o in node.orders.orders.values() if o.signal.get("exit") == "overshoot"]
        assert [(o.side, o.amount, o.status) for o in back] == [(Side.BUY, qty, OrderStatus.FILLED)]
        await cancels.land()  # the held cancel lands on a filled order: nothing more
        assert held(node) == 0 and list(node.orders.open) == []


async def test_an_overshoot_close_refused_while_running_is_alerted_and_tried_again(tmp_path):
    # A buy-back the risk engine refused (stale market data) was only logged and tried at the
    # next start, while the alert said it was closing: the account sat short meanwhile.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        tp, sl, qty = await bracket(node)
        cancels, submit = HeldCancels(node.venues["binance"]), node.submit
        refused: list[OrderIntent] = []

        async def stale_once(intent: OrderIntent, *args: object, **kw: object) -> object:
            if intent.signal.get("exit") == "overshoot" and not refused:
                refused.append(intent)
                return await submit(intent, gate=lambda: ("STALE_MARKET_DATA", "no fresh quote"))
            return await submit(intent, *args, **kw)  # type: ignore[arg-type]

        node.submit = stale_once  # type: ignore[method-assign]
        move(ex, "BUY", "51500")
        await eventually(lambda: node.orders.orders[tp].status is OrderStatus.FILLED, 30)
        move(ex, "SELL", "48500")
        await eventually(lambda: node.orders.orders[sl].status is OrderStatus.FILLED, 30)
        await eventually(lambda: any(e.kind == "exit.overshoot_close_refused" for e in events), 30)
        alert = next(e for e in events if e.kind == "exit.overshoot_close_refused")
        assert alert.severity == "critical" and alert.data["orders"] == [tp, sl]
        assert "STALE_MARKET_DATA" in alert.data["reason"] and D(alert.data["excess"]) == qty
        # tried again while running: the position ends flat, bought back once
        await eventually(lambda: held(node) == 0, 30)
        back = [o for o in node.orders.orders.values() if o.signal.get("exit") == "overshoot"]
        assert [(o.amount, o.status) for o in back] == [(qty, OrderStatus.FILLED)]
        await cancels.land()
        assert held(node) == 0 and list(node.orders.open) == []
        assert [e.kind for e in events].count("exit.overshoot_close_refused") == 1


async def test_a_refused_overshoot_close_is_not_sent_again_while_the_strategy_closes_it(
    tmp_path,
):
    # The buy-back was refused and the strategy bought the excess back itself, its market
    # order still on its way when the retry came: the retry read the position still past flat
    # and bought it back a second time, leaving the strategy long what it had sold twice.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        tp, sl, _ = await bracket(node)
        venue = node.venues["binance"]
        cancel, send, submit = venue.cancel, venue.submit, node.submit
        refused: list[OrderIntent] = []

        async def slow_cancel(order: Order) -> object:
            await asyncio.sleep(3)  # the cancel is on its way while the market moves
            return await cancel(order)

        async def slow_hand_close(order: Order) -> object:
            if order.side is Side.BUY and order.signal.get("exit") != "overshoot":
                await asyncio.sleep(3)  # the strategy's own buy-back is on its way
            return await send(order)

        async def stale_once(intent: OrderIntent, *args: object, **kw: object) -> object:
            if intent.signal.get("exit") == "overshoot" and not refused:
                refused.append(intent)
                return await submit(intent, gate=lambda: ("STALE_MARKET_DATA", "no fresh quote"))
            return await submit(intent, *args, **kw)  # type: ignore[arg-type]

        venue.cancel = slow_cancel  # type: ignore[method-assign]
        venue.submit = slow_hand_close  # type: ignore[method-assign]
        node.submit = stale_once  # type: ignore[method-assign]
        move(ex, "BUY", "51500")
        await eventually(lambda: node.orders.orders[tp].status is OrderStatus.FILLED, 30)
        move(ex, "SELL", "48500")
        await eventually(lambda: node.orders.orders[sl].status is OrderStatus.FILLED, 30)
        await eventually(lambda: any(e.kind == "exit.overshoot_close_refused" for e in events), 30)
        short = -held(node)
        assert short > 0
        hand = await submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, short, OrderType.MARKET)
        )
        assert hand.ok, hand.reason
        await eventually(lambda: held(node) >= 0, 30)
        await asyncio.sleep(3)  # past the retry
        back = [o for o in node.orders.orders.values() if o.signal.get("exit") == "overshoot"]
        assert [o.filled for o in back if o.filled > 0] == [], "bought back twice"
        assert held(node) == 0


def _sell(reduce_only: bool = True) -> Order:
    return Order("c", "s", "v", "BTC/USDT", Side.SELL, OrderType.STOP_LOSS, D("1"),
                 reduce_only=reduce_only)  # fmt: skip


@pytest.mark.parametrize(
    ("after", "amount", "reduce_only", "excess"),
    [
        ("0", "1", True, "0"),  # closed exactly
        ("-0.4", "1", True, "0.4"),  # sold 0.4 more than held
        ("-1", "1", True, "1"),  # held nothing when it filled (the other exit sold it)
        ("-2", "1", True, "1"),  # short before: only this fill's part is new
        ("-0.4", "1", False, "0"),  # not an exit
        ("-0.4", "0", True, "0"),  # a fee-only fill
    ],
)
def test_an_overshoot_counts_only_what_an_exit_sold_past_flat(after, amount, reduce_only, excess):
    assert _overshoot(_sell(reduce_only), D(after), D(amount)) == D(excess)


def engine_orders(ex: SandboxExchange) -> list:
    """The orders the node's account sent (not the house book's)."""
    return [o for o in ex.engine.orders.values() if o.client_order_id.startswith("tg")]


def stops_resting(node: TradingNode) -> list[Order]:
    return [o for o in node.orders.open.values()
            if o.type is OrderType.STOP_LOSS and o.venue_order_id]  # fmt: skip


async def test_a_smaller_stop_the_venue_refuses_is_reported_and_placed_again(tmp_path):
    # The refused replacement was only logged: what the target left rested with no stop.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        venue = node.venues["binance"]
        send = venue.submit
        refused: list[str] = []

        async def refuse_once(order: Order) -> object:
            if "replaces" in order.signal and not refused:
                refused.append(order.client_order_id)
                raise DefinitiveVenueError("binance", "Account has insufficient balance", "-2010")
            return await send(order)

        venue.submit = refuse_once  # type: ignore[method-assign]
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        await eventually(lambda: len(refused) == 1, 30)
        await eventually(lambda: any(e.kind == "exit.replace_refused" for e in events), 10)
        alert = next(e for e in events if e.kind == "exit.replace_refused")
        assert alert.severity == "critical" and alert.data["order"] == sl
        await eventually(lambda: len(stops_resting(node)) == 1, 15)  # tried again, placed
        new = stops_resting(node)[0]
        assert new.client_order_id != refused[0] and new.signal["replaces"] == sl
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY])
        assert node.storage.kv_get("node.exit_replacements") is None


def venue_expires(ex: SandboxExchange, cid: str) -> None:
    """The venue ends the resting order `cid` on its own (an expiry or a late rejection on the
    order stream), after it acknowledged it."""
    [order] = [o for o in ex.engine.orders.values() if o.client_order_id == cid]
    result = Result(order=order)
    ex.engine.close(order, "EXPIRED", ex.now_ms(), result)
    ex.publish(result, {"BTCUSDT"})


async def test_a_smaller_stop_the_venue_ends_after_taking_it_is_alerted_and_placed_again(tmp_path):
    # Only a refusal of the submit itself was retried: a replacement the venue acknowledged and
    # then ended left what the target had not sold without a stop, and no alert.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        await eventually(lambda: len(stops_resting(node)) == 1 and stops_resting(node)[0]
                         .signal.get("replaces") == sl, 30)  # fmt: skip
        first = stops_resting(node)[0].client_order_id
        assert not [e for e in events if e.kind == "exit.replace_refused"]
        venue_expires(ex, first)
        await eventually(lambda: node.orders.orders[first].status is OrderStatus.EXPIRED, 30)
        await eventually(lambda: any(e.kind == "exit.replace_refused" for e in events), 10)
        alert = next(e for e in events if e.kind == "exit.replace_refused")
        assert alert.severity == "critical" and alert.data["order"] == sl
        assert first in alert.data["reason"] and "expired" in alert.data["reason"]
        left = node.portfolio.sellable(node.portfolio.positions[KEY])
        await eventually(lambda: [o.client_order_id for o in stops_resting(node)] not in
                         ([], [first]), 15)  # fmt: skip
        [new] = stops_resting(node)
        assert new.signal["replaces"] == sl and new.amount == left
        assert (new.type, new.trigger_price, new.reduce_only) == (
            OrderType.STOP_LOSS, D("49000"), True,
        )  # fmt: skip
        venue = [o for o in engine_orders(ex) if o.type == "STOP_LOSS" and o.status == "NEW"]
        assert [o.client_order_id for o in venue] == [new.client_order_id]
        assert node.storage.kv_get("node.exit_replacements") is None
        await asyncio.sleep(1.5)  # the retry after 1 s found it placed: nothing more
        assert len([e for e in events if e.kind == "exit.replace_refused"]) == 1
        assert len(stops_resting(node)) == 1


async def test_the_start_up_check_and_a_fills_check_shrink_a_stop_once_not_twice(tmp_path):
    # At start the journaled shrink was checked again while a fill's check of the same exits
    # was still cancelling the larger stop: both placed a smaller stop, two for the same coins.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        venue = node.venues["binance"]
        cancel = venue.cancel

        async def slow_cancel(order: Order) -> object:
            await asyncio.sleep(1)
            return await cancel(order)

        venue.cancel = slow_cancel  # type: ignore[method-assign]
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        # the fill's check journaled the smaller stop and is cancelling the larger one
        await eventually(lambda: sl in node.orders.cancel_requested, 30)
        assert sl in (node.storage.kv_get("node.exit_replacements") or {})
        await resume_replacements(node)  # the start-up step, meanwhile
        await eventually(lambda: len(stops_resting(node)) >= 1, 30)
        await asyncio.sleep(2)  # a second smaller stop would rest by now
        [new] = stops_resting(node)
        assert new.signal["replaces"] == sl
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY])
        venue_stops = [o for o in engine_orders(ex) if o.type == "STOP_LOSS" and o.status == "NEW"]
        assert [o.client_order_id for o in venue_stops] == [new.client_order_id]
        assert node.storage.kv_get("node.exit_replacements") is None


async def test_a_stop_whose_cancel_lands_after_the_query_is_still_placed_again_smaller(tmp_path):
    # The cancel of the larger stop timed out, the query found it still resting, and the cancel
    # landed after: the smaller stop journaled before it was forgotten, and what the target
    # left rested with no stop.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        venue = node.venues["binance"]
        cancel = venue.cancel
        late: list[asyncio.Task[object]] = []

        async def queued_cancel(order: Order) -> object:
            if not late:  # the request waits in a queue at the venue; the caller times out

                async def land() -> object:
                    await asyncio.sleep(1.5)
                    return await cancel(order)

                late.append(asyncio.create_task(land()))
                raise AmbiguousVenueError("binance", "cancel timed out")
            return await cancel(order)

        venue.cancel = queued_cancel  # type: ignore[method-assign]
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        await eventually(lambda: bool(late), 30)
        await eventually(lambda: node.orders.orders[sl].status is OrderStatus.CANCELLED, 30)
        await eventually(lambda: len(stops_resting(node)) == 1, 15)
        [new] = stops_resting(node)
        assert new.signal["replaces"] == sl
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY])
        await asyncio.sleep(1.5)  # nothing placed twice
        venue_stops = [o for o in engine_orders(ex) if o.type == "STOP_LOSS" and o.status == "NEW"]
        assert [o.client_order_id for o in venue_stops] == [new.client_order_id]
        assert node.storage.kv_get("node.exit_replacements") is None


async def test_the_start_up_step_and_a_late_cancel_end_place_the_smaller_stop_once(tmp_path):
    # Start-up order: reconciliation applies the late cancel of the larger stop (its end sets
    # off a placing task) and the start-up step places the journaled smaller stop at once; the
    # task then ran while that submit was on its way and placed a second smaller stop.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        venue = node.venues["binance"]
        submit = venue.submit

        async def lost_cancel(order: Order) -> object:  # queued at the venue, answer lost
            raise AmbiguousVenueError("binance", "cancel timed out")

        async def slow_submit(order: Order) -> object:
            await asyncio.sleep(1)
            return await submit(order)

        venue.cancel = lost_cancel  # type: ignore[method-assign]
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        await eventually(lambda: sl in node.orders.cancel_requested, 30)
        await asyncio.sleep(0.5)  # the check found the cancel unresolved and returned
        assert node.orders.orders[sl].is_open
        assert sl in (node.storage.kv_get("node.exit_replacements") or {})
        # The queued cancel lands at the venue; the node hears of it only by asking.
        [larger] = [o for o in engine_orders(ex) if o.client_order_id == sl]
        ex.engine.close(larger, "CANCELED", ex.now_ms(), Result(order=larger))
        report = await venue.fetch_order(sl, "BTC/USDT")
        assert report is not None and report.status is OrderStatus.CANCELLED
        venue.submit = slow_submit  # type: ignore[method-assign]
        node.orders.on_order_report(report)  # reconciliation applies it
        await resume_replacements(node)  # then the start-up step, with no pause between
        await asyncio.sleep(2.5)  # a second smaller stop would rest by now
        [new] = stops_resting(node)
        assert new.signal["replaces"] == sl
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY])
        venue_stops = [o for o in engine_orders(ex) if o.type == "STOP_LOSS" and o.status == "NEW"]
        assert [o.client_order_id for o in venue_stops] == [new.client_order_id]
        assert node.storage.kv_get("node.exit_replacements") is None


async def test_take_profits_together_larger_than_the_position_are_held_to_it_together(tmp_path):
    # Each take-profit was held to the position alone: after a sale shrank the position to one
    # of them, both still rested, and one rise through both sold twice what was held.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        events: list[Event] = []
        node.bus.subscribe(events.append, "exit.")
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        near = await node.submit(exit_intent(OrderType.TAKE_PROFIT, D("0.001"), "51000"))
        far = await node.submit(exit_intent(OrderType.TAKE_PROFIT, qty - D("0.001"), "51200"))
        assert near.ok and far.ok and near.order is not None and far.order is not None
        near_id, far_id = near.order.client_order_id, far.order.client_order_id
        sale = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.MARKET)
        )
        assert sale.ok, sale.reason
        await eventually(lambda: held(node) < D("0.001"), 30)
        left = node.portfolio.sellable(node.portfolio.positions[KEY])
        await eventually(lambda: not node.orders.orders[near_id].is_open, 30)
        await asyncio.sleep(1)  # the check is done
        before = [o for o in node.orders.open.values() if o.type is OrderType.TAKE_PROFIT]
        move(ex, "BUY", "51500")  # one rise through both prices
        await eventually(lambda: any(o.status is OrderStatus.FILLED for o in before), 30)
        await asyncio.sleep(1.5)
        assert held(node) >= 0, f"sold past flat: {held(node)}"
        assert not [e for e in events if e.kind == "exit.overshoot"]
        # the nearer one rested for what the sale left; the farther one was cancelled
        assert [(o.signal.get("replaces"), o.amount) for o in before] == [(near_id, left)]
        assert node.orders.orders[far_id].status is OrderStatus.CANCELLED


async def test_a_start_up_step_during_a_shrink_keeps_its_journal_row_for_the_retry(tmp_path):
    # The start-up step meets a stop a fill's check is cancelling to place smaller; that
    # placing is then refused once. The row the retry reads must still be there: dropped, the
    # retry found nothing to place and what the target left rested with no stop.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        venue = node.venues["binance"]
        cancel, send = venue.cancel, venue.submit
        refused: list[str] = []

        async def slow_cancel(order: Order) -> object:
            await asyncio.sleep(1)
            return await cancel(order)

        async def refuse_once(order: Order) -> object:
            if "replaces" in order.signal and not refused:
                refused.append(order.client_order_id)
                raise DefinitiveVenueError("binance", "Account has insufficient balance", "-2010")
            return await send(order)

        venue.cancel = slow_cancel  # type: ignore[method-assign]
        venue.submit = refuse_once  # type: ignore[method-assign]
        buy = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, D("0.002"), OrderType.MARKET)
        )
        assert buy.ok, buy.reason
        await eventually(lambda: held(node) > D("0.0019"), 30)
        qty = node.portfolio.sellable(node.portfolio.positions[KEY])
        stop = await node.submit(exit_intent(OrderType.STOP_LOSS, qty, "49000"))
        assert stop.ok and stop.order is not None, stop.reason
        sl = stop.order.client_order_id
        target = await node.submit(OrderIntent(
            "manual", "binance", "BTC/USDT", Side.SELL, D("0.001"), OrderType.LIMIT, D("49999"),
            reduce_only=True,
        ))  # fmt: skip
        assert target.ok, target.reason
        await eventually(lambda: sl in node.orders.cancel_requested, 30)
        await resume_replacements(node)  # the start-up step, while the cancel is on its way
        await eventually(lambda: len(refused) == 1, 30)
        await eventually(lambda: len(stops_resting(node)) == 1, 15)  # tried again, placed
        [new] = stops_resting(node)
        assert new.signal["replaces"] == sl
        assert new.amount == node.portfolio.sellable(node.portfolio.positions[KEY])
        assert node.storage.kv_get("node.exit_replacements") is None
