"""The order state machine refuses every illegal transition."""

from decimal import Decimal

import pytest

from tradeguard.model import (
    Fill,
    InvalidOrderTransition,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from tradeguard.model.order import can_transition

S = OrderStatus
LEGAL = {
    (S.NEW, S.SUBMITTED), (S.NEW, S.REJECTED),
    (S.SUBMITTED, S.ACCEPTED), (S.SUBMITTED, S.PARTIALLY_FILLED), (S.SUBMITTED, S.FILLED),
    (S.SUBMITTED, S.CANCELLED), (S.SUBMITTED, S.REJECTED), (S.SUBMITTED, S.EXPIRED),
    (S.ACCEPTED, S.PARTIALLY_FILLED), (S.ACCEPTED, S.FILLED), (S.ACCEPTED, S.CANCELLED),
    (S.ACCEPTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED), (S.PARTIALLY_FILLED, S.EXPIRED),
}  # fmt: skip


def _order(status: OrderStatus) -> Order:
    return Order(
        "cid1",
        "s",
        "paper",
        "BTC/USDT",
        Side.BUY,
        OrderType.LIMIT,
        Decimal("1"),
        Decimal("100"),
        status=status,
    )


@pytest.mark.parametrize("current", list(OrderStatus))
@pytest.mark.parametrize("target", list(OrderStatus))
def test_every_transition_is_allowed_only_if_legal(current: OrderStatus, target: OrderStatus):
    order = _order(current)
    if (current, target) in LEGAL:
        order.transition(target)
        assert order.status is target
        assert can_transition(current, target)
    else:
        with pytest.raises(InvalidOrderTransition) as err:
            order.transition(target)
        assert current.value in str(err.value) and target.value in str(err.value)
        assert order.status is current
        assert not can_transition(current, target)


def test_terminal_states_accept_nothing():
    for status in (S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED):
        assert status.is_terminal
        for target in OrderStatus:
            assert not can_transition(status, target)


def _fill(trade_id: str, amount: str, price: str = "100") -> Fill:
    return Fill(
        "paper",
        "BTC/USDT",
        "cid1",
        "v1",
        trade_id,
        Side.BUY,
        Decimal(price),
        Decimal(amount),
        Decimal("0.01"),
        "USDT",
        LiquiditySide.TAKER,
        1,
    )


def test_fills_move_order_to_partial_then_filled_and_average_price():
    order = _order(S.ACCEPTED)
    assert order.apply_fill(_fill("t1", "0.4", "100"))
    assert order.status is S.PARTIALLY_FILLED
    assert order.apply_fill(_fill("t2", "0.6", "110"))
    assert order.status is S.FILLED
    assert order.filled == Decimal("1")
    assert order.avg_price == Decimal("106")
    assert order.fee == Decimal("0.02")


def test_same_trade_id_applies_once():
    order = _order(S.ACCEPTED)
    assert order.apply_fill(_fill("t1", "0.5"))
    assert not order.apply_fill(_fill("t1", "0.5"))
    assert order.filled == Decimal("0.5")


def test_overfill_is_refused():
    order = _order(S.ACCEPTED)
    with pytest.raises(InvalidOrderTransition, match=r"would fill 1\.5 of 1"):
        order.apply_fill(_fill("t1", "1.5"))
    assert order.filled == 0


def test_fill_on_cancelled_order_is_refused():
    order = _order(S.CANCELLED)
    with pytest.raises(InvalidOrderTransition):
        order.apply_fill(_fill("t1", "0.5"))


def test_an_order_from_an_intent_carries_every_field_of_it_and_starts_new() -> None:
    from tradeguard.model.enums import TimeInForce
    from tradeguard.model.order import OrderIntent

    intent = OrderIntent(
        strategy_id="s1", venue="paper", symbol="ETH/BTC", side=Side.SELL,
        amount=Decimal("1.5"), type=OrderType.LIMIT, price=Decimal("0.05"),
        time_in_force=TimeInForce.IOC, reduce_only=True, stop_loss=Decimal("0.06"),
        take_profit=Decimal("0.04"), signal={"why": "cross"}, trigger_price=Decimal("0.051"),
    )  # fmt: skip
    order = Order.from_intent(intent, "c-1", 1234)
    expected = Order(
        client_order_id="c-1", strategy_id="s1", venue="paper", symbol="ETH/BTC",
        side=Side.SELL, type=OrderType.LIMIT, amount=Decimal("1.5"), price=Decimal("0.05"),
        time_in_force=TimeInForce.IOC, reduce_only=True, created_ts=1234, updated_ts=1234,
        stop_loss=Decimal("0.06"), take_profit=Decimal("0.04"), signal={"why": "cross"},
        trigger_price=Decimal("0.051"),
    )  # fmt: skip
    assert order == expected
    assert order.status is S.NEW and order.venue_order_id == "" and order.oco_group == ""
    assert order.filled == order.avg_price == order.fee == 0 and order.trade_ids == set()
    # the order's signal is a copy: the strategy's dict may change after
    assert order.signal is not intent.signal


def test_an_order_s_event_data_gives_its_figures_as_their_exact_text() -> None:
    from tradeguard.execution.order_events import order_data

    order = _order(S.ACCEPTED)
    data = order_data(order)
    assert (data["filled"], data["avg_price"]) == ("0", "0")
    assert data["amount"] == str(order.amount)
    # a zero of its own keeps its places, and an exponent never shows
    order.filled, order.avg_price = Decimal("0E-8"), Decimal("1E-7")
    data = order_data(order)
    assert (data["filled"], data["avg_price"]) == ("0.00000000", "0.0000001")
