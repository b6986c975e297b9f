"""Risk checks of stop and take-profit orders: reduce-only exits valued at trigger or limit."""

from __future__ import annotations

from decimal import Decimal

from test_risk_support import T0, D, Rig
from tradeguard.model import OrderIntent, OrderType, Side


def trigger(
    kind: OrderType, trigger_price: str | None, amount: str = "1", price: str | None = None,
    side: Side = Side.SELL, reduce_only: bool = True,
) -> OrderIntent:  # fmt: skip
    return OrderIntent(
        "s1", "paper", "BTC/USDT", side, D(amount), kind,
        price=None if price is None else D(price), reduce_only=reduce_only,
        trigger_price=None if trigger_price is None else D(trigger_price),
    )  # fmt: skip


def held(amount: str = "2") -> Rig:
    rig = Rig(max_order_notional_usd=D(1000))
    rig.book.hold("BTC/USDT", D(amount), D(100))
    return rig


def test_a_stop_loss_below_the_mid_passes_and_is_valued_at_its_trigger() -> None:
    rig = held()
    d = rig.check(trigger(OrderType.STOP_LOSS, "95"))
    assert d.approved, d.reason
    assert d.value == D(95) and d.price_bound is None  # the notional, in USD


def test_a_stop_limit_is_valued_at_its_limit_price() -> None:
    d = held().check(trigger(OrderType.STOP_LOSS_LIMIT, "95", price="94"))
    assert d.approved and d.value == D(94)


def test_a_take_profit_far_from_the_mid_is_not_a_price_band_breach() -> None:
    rig = held()
    assert rig.config.price_band_pct < 30
    assert rig.check(trigger(OrderType.TAKE_PROFIT, "130")).approved


def test_a_trigger_already_reached_is_refused_naming_mid_and_trigger() -> None:
    rig = held()
    d = rig.check(trigger(OrderType.STOP_LOSS, "100"))  # mid 100: a sell stop at 100 fires now
    assert (d.approved, d.code) == (False, "TRIGGER_ALREADY_REACHED")
    assert "mid 100" in d.reason and "trigger_price=100" in d.reason
    rig.at(T0 + 1000)
    d = rig.check(trigger(OrderType.TAKE_PROFIT, "99.99"))
    assert d.code == "TRIGGER_ALREADY_REACHED"
    rig.at(T0 + 2000)
    buy_stop = trigger(OrderType.STOP_LOSS, "99", side=Side.BUY)  # a buy stop fires on a rise
    assert rig.check(buy_stop).code == "TRIGGER_ALREADY_REACHED"


def test_a_trigger_order_must_be_a_reduce_only_exit() -> None:
    rig = held()
    d = rig.check(trigger(OrderType.STOP_LOSS, "95", reduce_only=False))
    assert (d.approved, d.code) == (False, "TRIGGER_NOT_REDUCE_ONLY")
    rig.at(T0 + 1000)
    d = rig.check(trigger(OrderType.STOP_LOSS, "95", amount="3"))  # more than the position
    assert d.code == "REDUCE_ONLY_WOULD_GROW"


def test_a_missing_or_non_positive_trigger_price_is_refused() -> None:
    rig = held()
    assert rig.check(trigger(OrderType.STOP_LOSS, None)).code == "INVALID_TRIGGER"
    rig.at(T0 + 1000)
    d = rig.check(trigger(OrderType.STOP_LOSS, "0"))
    assert d.code == "INVALID_TRIGGER" and "trigger_price" in d.reason


def test_a_stop_limit_whose_limit_is_far_from_its_trigger_breaches_the_band() -> None:
    rig = held()
    band = rig.config.price_band_pct
    far = D(95) * (1 - (band + 1) / Decimal(100))
    d = rig.check(trigger(OrderType.STOP_LOSS_LIMIT, "95", price=str(far.quantize(D("0.01")))))
    assert (d.approved, d.code) == (False, "PRICE_BAND")
    assert "from its trigger 95" in d.reason
    rig.at(T0 + 1000)
    assert rig.check(trigger(OrderType.STOP_LOSS_LIMIT, "95", price=None)).code == "INVALID_PRICE"


def test_a_stop_below_the_minimum_notional_at_its_trigger_is_refused() -> None:
    rig = held()
    d = rig.check(trigger(OrderType.STOP_LOSS, "95", amount="0.05"))  # 5.00 at the mid, 4.75 here
    assert d.code == "MIN_NOTIONAL" and "notional 4.75" in d.reason
