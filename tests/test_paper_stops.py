"""Stop, take-profit and OCO orders on the paper venue, triggered by hand-made candles."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from tradeguard.clock import SimulatedClock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, TradeTick
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue

SPOT = Instrument(
    venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", price_tick=D("0.01"),
    amount_step=D("0.0001"), min_notional=D("5"), maker_fee=D("0.001"), taker_fee=D("0.001"),
)  # fmt: skip
MIN = 60_000


class Recorder:
    def __init__(self) -> None:
        self.fills: list[Fill] = []
        self.reports: list[OrderReport] = []

    def on_order_report(self, report: OrderReport) -> None:
        self.reports.append(report)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue: str, balances: list[Balance]) -> None:
        pass

    def last(self, cid: str) -> OrderReport:
        return [r for r in self.reports if r.client_order_id == cid][-1]


def candle(i: int, o: str, h: str, lo: str, c: str, volume: str = "100") -> Candle:
    return Candle("BTC/USDT", i * MIN, D(o), D(h), D(lo), D(c), D(volume))


def venue(fill_at: str = "next_open") -> tuple[PaperVenue, Recorder, SimulatedClock]:
    clock = SimulatedClock(0)
    v = PaperVenue(
        "paper", {"BTC/USDT": SPOT}, {"USDT": D(10_000), "BTC": D(1)}, clock,
        FillConfig(slippage_bps=D(0), impact_bps_per_pct=D(0), fill_at=fill_at),
    )  # fmt: skip
    rec = Recorder()
    v.set_listener(rec)
    v.restore_position("BTC/USDT", D(1))  # the position a reduce-only exit shrinks
    v.on_candle(candle(0, "100", "101", "99", "100"))
    clock.advance_to(MIN)  # the first bar has closed
    return v, rec, clock


def trigger_order(cid: str, type_: OrderType, trigger: str, price: str | None = None) -> Order:
    return Order(
        cid, "s", "paper", "BTC/USDT", Side.SELL, type_, D("0.5"),
        price=None if price is None else D(price), reduce_only=True, trigger_price=D(trigger),
    )  # fmt: skip


async def test_a_stop_loss_waits_then_fills_at_the_open_after_the_candle_that_crosses() -> None:
    v, rec, clock = venue()
    report = await v.submit(trigger_order("sl", OrderType.STOP_LOSS, "95"))
    assert report.status is OrderStatus.ACCEPTED
    btc = next(b for b in v.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D("0.5"))
    assert [r.client_order_id for r in await v.fetch_open_orders()] == ["sl"]
    v.on_candle(candle(1, "100", "100", "96", "97"))  # low 96: not reached
    clock.advance_to(2 * MIN)
    assert rec.fills == []
    v.on_candle(candle(2, "97", "97", "94", "95"))  # low 94: triggered at this bar's close
    clock.advance_to(3 * MIN)
    assert rec.fills == []  # never inside the bar that triggered it
    v.on_candle(candle(3, "93", "94", "92", "93"))
    [fill] = rec.fills
    assert (fill.price, fill.amount, fill.side) == (D("93"), D("0.5"), Side.SELL)
    assert rec.last("sl").status is OrderStatus.FILLED
    assert v.net_position("BTC/USDT") == D("0.5")


async def test_in_candle_mode_fills_a_triggered_stop_at_the_close_of_the_crossing_candle() -> None:
    v, rec, clock = venue("in_candle")
    await v.submit(trigger_order("sl", OrderType.STOP_LOSS, "95"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(1, "97", "97", "94", "94.5"))
    [fill] = rec.fills
    assert fill.price == D("94.5")


async def test_a_stop_limit_that_the_market_gaps_through_rests_as_a_limit() -> None:
    v, rec, clock = venue()
    await v.submit(trigger_order("sll", OrderType.STOP_LOSS_LIMIT, "95", "94.5"))
    v.on_candle(candle(1, "100", "100", "94", "94"))  # triggered; 94.5 is above the close
    clock.advance_to(2 * MIN)
    v.on_candle(candle(2, "94", "94.4", "93", "94"))  # never trades through 94.5
    assert rec.fills == [] and rec.last("sll").status is OrderStatus.ACCEPTED
    v.on_candle(candle(3, "94", "95", "94", "95"))  # a sell limit fills when high > price
    [fill] = rec.fills
    assert fill.price == D("94.5")


async def test_a_stop_limit_marketable_on_its_trigger_fills_as_a_taker_at_the_next_open() -> None:
    v, rec, clock = venue()
    await v.submit(trigger_order("sll", OrderType.STOP_LOSS_LIMIT, "95", "94.5"))
    v.on_candle(candle(1, "100", "100", "94.8", "95"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(2, "95", "95.5", "94.6", "95"))
    [fill] = rec.fills
    assert fill.price == D("95")


async def test_a_trade_tick_triggers_a_take_profit_and_data_before_the_order_does_not() -> None:
    v, rec, clock = venue()
    v.on_trade(TradeTick("BTC/USDT", MIN - 1, "t1", D("106"), D("1"), "buy"))  # before the order
    await v.submit(trigger_order("tp", OrderType.TAKE_PROFIT, "105"))
    v.on_candle(candle(1, "100", "104", "99", "103"))
    assert (
        rec.fills == [] and (await v.fetch_order("tp", "BTC/USDT")).status is OrderStatus.ACCEPTED
    )
    v.on_trade(TradeTick("BTC/USDT", MIN + 5, "t2", D("105.2"), D("1"), "buy"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(2, "105", "106", "104", "105"))
    [fill] = rec.fills
    assert fill.price == D("105") and rec.last("tp").status is OrderStatus.FILLED


async def test_an_oco_holds_the_funds_once_and_the_stop_cancels_the_take_profit() -> None:
    v, rec, clock = venue()
    tp = trigger_order("tp", OrderType.TAKE_PROFIT, "105")
    sl = trigger_order("sl", OrderType.STOP_LOSS, "95")
    tp.oco_group = sl.oco_group = "oco-sl"
    reports = await v.submit_oco(tp, sl)
    assert [r.status for r in reports] == [OrderStatus.ACCEPTED, OrderStatus.ACCEPTED]
    btc = next(b for b in v.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D("0.5"))
    v.on_candle(candle(1, "100", "106", "94", "95"))  # both reached: the stop wins
    clock.advance_to(2 * MIN)
    assert rec.last("tp").status is OrderStatus.CANCELLED
    v.on_candle(candle(2, "95", "96", "94", "95"))
    assert [f.client_order_id for f in rec.fills] == ["sl"]
    assert rec.last("sl").status is OrderStatus.FILLED


async def test_cancelling_one_leg_of_an_oco_cancels_the_other() -> None:
    v, rec, _ = venue()
    tp = trigger_order("tp", OrderType.TAKE_PROFIT, "105")
    sl = trigger_order("sl", OrderType.STOP_LOSS, "95")
    tp.oco_group = sl.oco_group = "oco-sl"
    await v.submit_oco(tp, sl)
    await v.cancel(sl)
    assert rec.last("tp").status is OrderStatus.CANCELLED
    assert await v.fetch_open_orders() == []
    btc = next(b for b in v.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("1"), D("0"))


async def test_a_restored_stop_is_armed_again() -> None:
    journaled = trigger_order("sl", OrderType.STOP_LOSS, "95")  # as the journal holds it
    journaled.status, journaled.venue_order_id, journaled.created_ts = (
        OrderStatus.ACCEPTED, "paper-o1", MIN,
    )  # fmt: skip
    w, rec2, clock2 = venue()
    w.restore_order(journaled)
    clock2.advance_to(2 * MIN)
    w.on_candle(candle(1, "97", "97", "94", "95"))
    clock2.advance_to(3 * MIN)
    w.on_candle(candle(2, "93", "94", "92", "93"))
    assert [f.price for f in rec2.fills] == [D("93")]
    btc = next(b for b in w.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D("0"))  # locked on restore, sold on fill


async def test_a_trigger_order_without_a_trigger_price_is_refused() -> None:
    v, _, _ = venue()
    order = trigger_order("sl", OrderType.STOP_LOSS, "95")
    order.trigger_price = None
    with pytest.raises(Exception, match="INVALID_TRIGGER"):
        await v.submit(order)


async def test_a_candle_that_opened_before_the_stop_was_placed_never_triggers_it() -> None:
    v, rec, clock = venue()
    clock.advance_to(MIN + 30_000)  # half-way through the next bar
    await v.submit(trigger_order("sl", OrderType.STOP_LOSS, "95"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(1, "100", "100", "90", "96"))  # its low may have come before the order
    clock.advance_to(3 * MIN)
    v.on_candle(candle(2, "96", "97", "96", "96"))
    assert rec.fills == [] and (await v.fetch_order("sl", "BTC/USDT")).status.is_open


async def test_a_stop_fired_before_a_restart_comes_back_fired_and_fills_as_uninterrupted() -> None:
    """A commit between the candle that fires a stop and the one that fills it: the resumed
    venue fills it at the same open as a venue never stopped, not on the next crossing."""
    v, rec, clock = venue()
    await v.submit(trigger_order("sl", OrderType.STOP_LOSS, "95"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(1, "97", "97", "94", "95"))  # fires at this bar's close
    saved = json.loads(json.dumps(v.triggered_state()))  # as the run state stores it
    assert list(saved) == ["sl"] and saved["sl"][0] == OrderType.MARKET.value
    journaled = trigger_order("sl", OrderType.STOP_LOSS, "95")  # the journal keeps its type
    journaled.status, journaled.venue_order_id, journaled.created_ts = (
        OrderStatus.ACCEPTED, "paper-o1", MIN,
    )  # fmt: skip

    w, rec2, clock2 = venue()
    w.restore_order(journaled)
    w.prime(candle(1, "97", "97", "94", "95"))
    w.restore_triggered(saved)
    assert w.triggered_state() == saved
    # The next bar never reaches 95 again: only a stop that stayed fired fills on it.
    for venue_, clk in ((v, clock), (w, clock2)):
        clk.advance_to(3 * MIN)
        venue_.on_candle(candle(2, "96", "99", "96", "98"))
    assert [f.price for f in rec2.fills] == [f.price for f in rec.fills] == [D("96")]
    btc = next(b for b in w.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D("0"))


async def test_an_armed_stop_is_not_in_the_triggered_state() -> None:
    v, _, clock = venue()
    await v.submit(trigger_order("sl", OrderType.STOP_LOSS, "95"))
    clock.advance_to(2 * MIN)
    v.on_candle(candle(1, "100", "100", "96", "97"))  # not reached
    assert v.triggered_state() == {}


@pytest.mark.parametrize("first", ["limit", "stop"])
def test_a_restored_oco_with_a_limit_take_profit_holds_its_funds_once_and_sells_once(first):
    w, rec, clock = venue()
    tp = trigger_order("tp", OrderType.LIMIT, "105", "105")
    tp.trigger_price = None
    sl = trigger_order("sl", OrderType.STOP_LOSS, "95")
    for o, vid in ((tp, "paper-o1"), (sl, "paper-o2")):
        o.oco_group, o.status, o.venue_order_id, o.created_ts = (
            "oco-1",
            OrderStatus.ACCEPTED,
            vid,
            MIN,
        )
    for o in [tp, sl] if first == "limit" else [sl, tp]:  # journal order may be either
        w.restore_order(o)
    btc = next(b for b in w.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D("0.5"))  # the pair holds 0.5 once
    clock.advance_to(2 * MIN)
    w.on_candle(candle(1, "104", "106", "104", "105"))  # the take-profit fills
    clock.advance_to(3 * MIN)
    w.on_candle(candle(2, "100", "100", "90", "92"))  # through the stop: it was cancelled
    clock.advance_to(4 * MIN)
    w.on_candle(candle(3, "92", "92", "91", "92"))
    assert [(f.client_order_id, f.price) for f in rec.fills] == [("tp", D("105"))]
    btc = next(b for b in w.balances() if b.asset == "BTC")
    assert (btc.free, btc.locked) == (D("0.5"), D(0))
