"""Each pre-trade rule at, just below and just above its limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from test_risk_support import DAY_MS, T0, D, Rig, buy, sell
from tradeguard.model import Order, OrderStatus
from tradeguard.model.events import EventKind


def test_max_order_notional_usd_allows_at_and_below_and_denies_above() -> None:
    rig = Rig()
    assert rig.check(buy("1")).approved  # 100.00 = limit
    rig.at(T0 + 1000)
    assert rig.check(buy("0.9999")).approved  # 99.99
    rig.at(T0 + 2000)
    d = rig.check(buy("1.0001"))  # 100.01
    assert (d.approved, d.code, d.rule) == (False, "MAX_ORDER_NOTIONAL", "max_order_notional_usd")
    assert d.value == D("100.0100") and d.limit == D(100)
    assert "exceeds max_order_notional_usd=100.00 (risk.max_order_notional_usd)" in d.reason


def test_max_order_notional_pct_of_equity() -> None:
    rig = Rig(max_order_notional_usd=D(10_000))  # 20% of 10,000 = 2,000 binds
    assert rig.check(buy("20")).approved
    rig.at(T0 + 1000)
    assert rig.check(buy("19.9999")).approved
    rig.at(T0 + 2000)
    assert rig.check(buy("20.0001")).code == "MAX_ORDER_NOTIONAL_PCT"


def test_min_order_notional() -> None:
    rig = Rig()
    assert rig.check(buy("0.1")).approved  # 10.00 = limit
    rig.at(T0 + 1000)
    assert rig.check(buy("0.1001")).approved
    rig.at(T0 + 2000)
    assert rig.check(buy("0.0999")).code == "MIN_ORDER_NOTIONAL"


def test_portfolio_heat_counts_distance_to_stop_times_amount() -> None:
    rig = Rig(max_order_notional_usd=D(1000))
    rig.book.hold("BTC/USDT", D(59), D(100), stop=D(50))  # risk 50 × 59 = 2,950
    rig.book.cash = D(10_000) - D(5900)  # equity stays 10,000; cap 30% = 3,000
    assert rig.book.equity() == D(10_000)
    assert rig.check(buy("1", stop="50")).approved  # +50 -> 3,000 = cap
    rig.engine.invalidate_exposure()
    rig.at(T0 + 1000)
    assert rig.check(buy("1", stop="50.01")).approved  # +49.99
    rig.engine.invalidate_exposure()
    rig.at(T0 + 2000)
    d = rig.check(buy("1", stop="49.99"))  # +50.01
    assert d.code == "PORTFOLIO_HEAT" and d.limit == D("3000.00")


def test_heat_includes_approved_orders_not_yet_filled() -> None:
    rig = Rig(max_order_notional_usd=D(1000), max_trades_per_day=100)
    # each order risks 10 × (100 - 0) = 1,000; cap is 3,000
    for i in range(3):
        rig.at(T0 + i * 100)  # within one refresh interval: counted from the approvals
        assert rig.check(buy("10", stop="0", strategy_id=f"s{i}")).approved
    rig.at(T0 + 500)
    assert rig.check(buy("0.1", stop="0", strategy_id="s9")).code == "PORTFOLIO_HEAT"


def test_heat_reads_open_orders_after_a_refresh() -> None:
    rig = Rig(max_order_notional_usd=D(1000), max_trades_per_day=100)
    for i in range(3):
        rig.at(T0 + i * 2000)
        intent = buy("10", stop="0", strategy_id=f"s{i}")
        assert rig.check(intent).approved
        order = Order.from_intent(intent, f"o{i}", T0)  # what the order manager keeps open
        order.status = OrderStatus.ACCEPTED
        rig.book.orders.append(order)
    rig.at(T0 + 10_000)
    assert rig.check(buy("0.1", stop="0", strategy_id="s9")).code == "PORTFOLIO_HEAT"
    rig.book.orders[0].status = OrderStatus.CANCELLED
    rig.at(T0 + 12_000)
    assert rig.check(buy("0.1", stop="0", strategy_id="s9")).approved


def test_max_open_positions_counts_distinct_positions() -> None:
    rig = Rig()
    for i in range(4):
        rig.book.hold("BTC/USDT", D("0.01"), D(100), strategy_id=f"other{i}")
    assert rig.check(buy("0.5", strategy_id="new1")).approved  # 4 open -> a 5th
    rig.book.hold("BTC/USDT", D("0.01"), D(100), strategy_id="new1")
    rig.engine.invalidate_exposure()
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5", strategy_id="new2")).code == "MAX_OPEN_POSITIONS"  # at 5
    rig.at(T0 + 2000)
    assert rig.check(buy("0.5", strategy_id="new1")).approved  # adding to an open one
    rig.book.hold("BTC/USDT", D("0.01"), D(100), strategy_id="new3")  # 6 > 5
    rig.engine.invalidate_exposure()
    rig.at(T0 + 3000)
    assert rig.check(buy("0.5", strategy_id="new4")).code == "MAX_OPEN_POSITIONS"


def test_one_position_per_strategy_when_enabled() -> None:
    rig = Rig(one_position_per_strategy=True)
    rig.market.set("ETH/USDT", D(100), T0)
    rig.book.hold("BTC/USDT", D("0.1"), D(100), strategy_id="s1")
    assert rig.check(buy("0.5", symbol="ETH/USDT")).code == "ONE_POSITION_PER_STRATEGY"
    assert rig.check(buy("0.5", symbol="ETH/USDT", strategy_id="s2")).approved


def test_max_trades_per_day_resets_at_utc_midnight() -> None:
    rig = Rig(max_trades_per_day=3)
    day_end = (T0 // DAY_MS + 1) * DAY_MS
    for i in range(3):
        rig.at(day_end - 10_000 + i * 1000)
        assert rig.check(buy("0.5")).approved
    rig.at(day_end - 1000)
    assert rig.check(buy("0.5")).code == "MAX_TRADES_PER_DAY"
    rig.at(day_end)
    assert rig.check(buy("0.5")).approved


def test_exits_are_not_counted_or_blocked_by_trade_count() -> None:
    rig = Rig(max_trades_per_day=1)
    rig.book.hold("BTC/USDT", D(2), D(100))
    assert rig.check(buy("0.5")).approved
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5")).code == "MAX_TRADES_PER_DAY"
    assert rig.check(sell("1")).approved


def test_order_rate_per_venue_is_a_token_bucket() -> None:
    rig = Rig(max_orders_per_s=D(5), max_trades_per_day=100)
    results = [rig.check(buy("0.5")).approved for _ in range(6)]
    assert results == [True] * 5 + [False]
    assert rig.check(buy("0.5")).code == "ORDER_RATE"
    rig.at(T0 + 199)
    assert rig.check(buy("0.5")).code == "ORDER_RATE"
    rig.at(T0 + 200)
    assert rig.check(buy("0.5")).approved


def test_daily_loss_limit_denies_entries_from_the_limit_on() -> None:
    rig = Rig()  # limit = min(250 USD, 5% of 10,000 = 500) = 250
    rig.engine.observe_equity(T0, D(10_000))
    rig.book.cash = D("9750.01")
    assert rig.check(buy("0.5")).approved  # loss 249.99
    rig.book.cash = D(9750)
    rig.at(T0 + 1000)
    d = rig.check(buy("0.5"))
    assert (d.code, d.value, d.limit) == ("DAILY_LOSS_LIMIT", D(250), D(250))
    rig.book.cash = D("9749.99")
    assert rig.check(buy("0.5")).code == "DAILY_LOSS_LIMIT"


def test_daily_loss_pct_binds_when_smaller_than_usd() -> None:
    rig = Rig(cash=D(2000), daily_loss_limit_usd=D(1000))  # 5% of 2,000 = 100
    rig.engine.observe_equity(T0, D(2000))
    rig.book.cash = D("1900.01")
    assert rig.check(buy("0.5")).approved
    rig.book.cash = D(1900)
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5")).code == "DAILY_LOSS_LIMIT"


def test_weekly_loss_limit_uses_the_iso_week() -> None:
    rig = Rig(daily_loss_limit_usd=D(5000), daily_loss_limit_pct=D(25))  # weekly: min(750, 1000)
    rig.engine.observe_equity(T0, D(10_000))
    rig.book.cash = D("9250.01")
    assert rig.check(buy("0.5")).approved
    rig.book.cash = D(9250)
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5")).code == "WEEKLY_LOSS_LIMIT"
    rig.book.cash = D(9249)
    assert rig.check(buy("0.5")).code == "WEEKLY_LOSS_LIMIT"


def test_min_account_balance() -> None:
    rig = Rig(cash=D(100), stable_reserve_pct=D(0))
    assert rig.check(buy("0.1")).approved  # equity 100 = limit
    rig.book.cash = D("99.99")
    rig.at(T0 + 1000)
    assert rig.check(buy("0.1")).code == "MIN_ACCOUNT_BALANCE"
    rig.book.cash = D("100.01")
    assert rig.check(buy("0.1")).approved


def test_stable_reserve_keeps_twenty_percent_in_stablecoins() -> None:
    rig = Rig(max_order_notional_usd=D(1000))
    rig.market.set("ETH/USDT", D(100), T0)
    rig.book.hold("ETH/USDT", D(79), D(100), strategy_id="x")
    rig.book.cash = D(2100)  # equity 10,000, reserve 2,000
    assert rig.check(buy("1")).approved  # leaves 2,000
    rig.engine.invalidate_exposure()  # the approved order above counts as pending; reset
    rig.at(T0 + 1000)
    assert rig.check(buy("0.9999")).approved
    rig.engine.invalidate_exposure()
    rig.at(T0 + 2000)
    d = rig.check(buy("1.0001"))
    assert (d.code, d.value, d.limit) == ("STABLE_RESERVE", D("1999.9900"), D("2000.00"))


def test_an_outcome_bought_with_pusd_spends_the_stable_reserve() -> None:
    # Polymarket's outcomes settle in PUSD: paying in it spends stablecoins like USDT does.
    rig = Rig(max_order_notional_usd=D(1000))
    rig.market.set("ETH/USDT", D(100), T0)
    rig.market.set("WIN:YES/PUSD", D("0.5"), T0)
    rig.book.hold("ETH/USDT", D(79), D(100), strategy_id="x")
    rig.book.cash = D(2100)  # equity 10,000, reserve 2,000
    assert rig.check(buy("200", "0.5", symbol="WIN:YES/PUSD")).approved  # leaves 2,000
    rig.engine.invalidate_exposure()
    rig.at(T0 + 1000)
    d = rig.check(buy("202", "0.5", symbol="WIN:YES/PUSD"))  # 101 PUSD: 1,999 left
    assert (d.code, d.value, d.limit) == ("STABLE_RESERVE", D("1999.0"), D("2000.00"))


def test_price_band_on_limit_orders() -> None:
    rig = Rig()
    assert rig.check(buy("0.5", "102")).approved  # 2% = limit
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5", "101.99")).approved
    rig.at(T0 + 2000)
    assert rig.check(buy("0.5", "102.01")).code == "PRICE_BAND"
    assert rig.check(sell("0.5", "97.99")).code == "PRICE_BAND"


def test_market_orders_get_a_protective_price_bound() -> None:
    rig = Rig()
    d = rig.check(buy("0.5", None))
    assert d.approved and d.price_bound == D("101.00")
    rig.at(T0 + 1000)
    rig.book.hold("BTC/USDT", D(1), D(100))
    d = rig.check(sell("0.5", None))
    assert d.approved and d.price_bound == D("99.00")


def test_instrument_rules_are_checked_before_the_venue() -> None:
    rig = Rig()
    assert rig.check(buy("0.50001")).code == "LOT_SIZE"
    assert rig.check(buy("0.5", "100.001")).code == "PRICE_FILTER"
    assert rig.check(buy("0.5", symbol="DOGE/USDT")).code == "UNKNOWN_INSTRUMENT"  # no data
    rig.market.updated["DOGE/USDT"] = T0
    assert rig.check(buy("0.5", symbol="DOGE/USDT")).code == "UNKNOWN_INSTRUMENT"


def test_reduce_only_must_not_grow_a_position() -> None:
    rig = Rig()
    rig.book.hold("BTC/USDT", D(1), D(100))
    assert rig.check(sell("1", reduce_only=True)).approved
    rig.at(T0 + 1000)
    assert rig.check(sell("1.0001", reduce_only=True)).code == "REDUCE_ONLY_WOULD_GROW"
    assert rig.check(buy("0.5", reduce_only=True)).code == "REDUCE_ONLY_WOULD_GROW"


def test_cooldown_after_a_trade_per_strategy_and_symbol() -> None:
    rig = Rig(cooldown_after_trade_s=60)
    f, closed = rig.book.fill(buy("0.5"), D(100), T0)
    rig.engine.observe_fill(f, closed, strategy_id="s1")
    rig.at(T0 + 59_999)
    assert rig.check(buy("0.5")).code == "COOLDOWN"
    assert rig.check(buy("0.5", strategy_id="s2")).approved
    rig.at(T0 + 60_000)
    assert rig.check(buy("0.5")).approved


def test_cooldown_after_a_loss() -> None:
    rig = Rig(cooldown_after_loss_s=300)
    f, closed = rig.book.fill(buy("0.5"), D(100), T0)
    rig.engine.observe_fill(f, closed, "s1")
    f, closed = rig.book.fill(sell("0.5"), D(99), T0 + 1000)
    assert closed is not None and closed.pnl < 0
    rig.engine.observe_fill(f, closed)  # strategy taken from the closed trade
    rig.at(T0 + 300_999)
    assert rig.check(buy("0.5")).code == "COOLDOWN"
    rig.at(T0 + 301_000)
    assert rig.check(buy("0.5")).approved


def test_every_decision_goes_to_the_audit_log_with_value_and_limit() -> None:
    rig = Rig()
    rig.check(buy("1"))
    rig.check(buy("5"))
    approved = rig.kinds(EventKind.RISK_APPROVED)
    denied = rig.kinds(EventKind.RISK_DENIED)
    assert approved[0].data["notional_usd"] == "100" and approved[0].strategy_id == "s1"
    assert denied[0].data["code"] == "MAX_ORDER_NOTIONAL"
    assert denied[0].data["value"] == "500" and denied[0].data["limit"] == "100"


@pytest.mark.parametrize(
    ("net", "gross", "code"),
    [("0.5", "0.6", "OK"), ("0.49", "0.59", "ARB_MIN_PROFIT"), ("0.51", "0.61", "OK")],
)
def test_arbitrage_minimum_profit_after_fees(net: str, gross: str, code: str) -> None:
    rig = Rig()
    legs = [buy("0.5"), sell("0.5"), buy("0.5")]
    d = rig.engine.check_cycle(legs, D(gross), D("0.1"), D(100))
    assert d.code == code and d.value == D(net)


@pytest.mark.parametrize(("n", "ok"), [(4, True), (5, True), (6, False)])
def test_arbitrage_max_cycle_length(n: int, ok: bool) -> None:
    rig = Rig()
    d = rig.engine.check_cycle([buy("0.5")] * n, D(1), D("0.1"), D(50))
    assert d.approved is ok
    assert ok or d.code == "ARB_CYCLE_LENGTH"


@pytest.mark.parametrize(("size", "ok"), [("99.99", True), ("100", True), ("100.01", False)])
def test_arbitrage_size_per_cycle(size: str, ok: bool) -> None:
    rig = Rig()
    d = rig.engine.check_cycle([buy("0.5")] * 3, D(1), D("0.1"), Decimal(size))
    assert d.approved is ok


def test_reduce_only_works_for_shorts_too() -> None:
    rig = Rig()
    rig.book.hold("BTC/USDT", D(-1), D(100))
    assert rig.check(buy("1", reduce_only=True)).approved
    rig.at(T0 + 1000)
    assert rig.check(buy("1.0001", reduce_only=True)).code == "REDUCE_ONLY_WOULD_GROW"
    assert rig.check(sell("0.5", reduce_only=True)).code == "REDUCE_ONLY_WOULD_GROW"


def test_max_position_notional_counts_every_strategy_s_position_and_working_entries() -> None:
    rig = Rig(max_position_notional_usd=D(250), max_order_notional_usd=D(1000))
    assert rig.check(buy("2.5")).approved  # 250 USD from flat: at the limit
    rig.book.hold("BTC/USDT", D("1.5"), D(100), strategy_id="other")  # another strategy's 150
    rig.at(T0 + 1000)
    d = rig.check(buy("1.0001"))  # 150 + 100.01
    assert (d.approved, d.code, d.rule) == (
        False, "MAX_POSITION_NOTIONAL", "max_position_notional_usd"
    )  # fmt: skip
    assert d.value == D("250.0100") and d.limit == D(250)
    assert d.reason == (
        "order rejected: the BTC/USDT position on paper would be 2.5001 (250.01 USD with working "
        "orders), above max_position_notional_usd=250.00 (risk.max_position_notional_usd)"
    )
    working = Order.from_intent(buy("0.5"), "c-w", T0)
    working.transition(OrderStatus.SUBMITTED)
    working.transition(OrderStatus.ACCEPTED)
    rig.book.orders.append(working)  # a resting buy of 0.5 counts as well
    rig.at(T0 + 2000)
    assert rig.check(buy("0.6")).code == "MAX_POSITION_NOTIONAL"  # 150 + 50 + 60
    rig.at(T0 + 3000)
    assert rig.check(buy("0.5")).approved  # 150 + 50 + 50
    rig.at(T0 + 4000)
    assert rig.check(sell("1.5")).approved  # reducing: never stopped by it
    assert Rig().config.max_position_notional_usd is None  # off unless set


def test_a_symbol_no_venue_lists_is_unknown_and_trips_no_stale_data_breaker() -> None:
    # an order for a made-up symbol was answered STALE_MARKET_DATA ("last updated never") and
    # tripped a stale-data breaker per symbol: one warning event and one more entry in the
    # engine's stale set for every name an API caller invents
    rig = Rig()
    for n in range(3):
        d = rig.check(buy("0.5", symbol=f"ZZZ{n}/USDT"))
        assert d.code == "UNKNOWN_INSTRUMENT" and f"ZZZ{n}/USDT" in d.reason
    assert rig.engine.stale_data == set()
    assert rig.kinds(EventKind.BREAKER_TRIPPED) == []
    assert rig.check(buy("0.5")).approved


class _OpenBook:
    """The portfolio view `ExposureMeter.measure` reads: open orders only, BTC at 20,000 USDT."""

    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders

    def open_positions(self) -> list[object]:
        return []

    def open_orders(self) -> list[Order]:
        return self.orders

    def price_of(self, asset: str, in_asset: str | None = None) -> Decimal | None:
        return D(20_000) if asset == "BTC" else None

    def price_on(
        self, venue: str, asset: str, in_asset: str | None = None, fresh: object = None
    ) -> Decimal | None:
        return self.price_of(asset, in_asset)


class _Mids:
    def mid(self, symbol: str, venue: str | None = None) -> Decimal | None:
        return D(100)


def test_exposure_counts_every_stablecoin_buy_and_converts_each_btc_quote() -> None:
    from tradeguard.risk.exposure import ExposureMeter

    intents = [
        buy("1", symbol="ETH/USDT", stop="90", strategy_id="a"),
        buy("2", symbol="SOL/USDT", stop="90", strategy_id="b"),  # the same quote, first seen
        buy("1", symbol="ETH/BTC", stop="90", strategy_id="c"),
        buy("1", symbol="LTC/BTC", stop="95", strategy_id="d"),
    ]
    orders = [Order.from_intent(i, f"o{n}", T0) for n, i in enumerate(intents)]
    for order in orders:
        order.status = OrderStatus.ACCEPTED
    meter = ExposureMeter(D("0.02"))
    for _ in range(2):  # the symbols' quotes learnt on the first measure, kept on the next
        exp = meter.measure(_OpenBook(orders), _Mids(), T0, D(1))  # type: ignore[arg-type]
        assert exp.pending_stable_usd == D(300)  # 1 × 100 + 2 × 100, both USDT-quoted buys
        # 10 + 20 USDT, then (10 + 5) BTC at 20,000 USD each
        assert exp.heat_usd == D(30) + D(15) * 20_000
        assert exp.keys == {("paper", i.symbol, i.strategy_id) for i in intents}


@pytest.mark.parametrize(
    ("amount", "fields", "code", "said"),
    [
        (D("NaN"), {}, "INVALID_AMOUNT", "amount NaN on BTC/USDT: must be a finite Decimal > 0"),
        (D("Infinity"), {}, "INVALID_AMOUNT", "amount Infinity on BTC/USDT"),
        (D("-1"), {}, "INVALID_AMOUNT", "amount -1 on BTC/USDT"),
        (D("0"), {}, "INVALID_AMOUNT", "amount 0 on BTC/USDT"),
        (1.5, {}, "INVALID_AMOUNT", "amount 1.5 (float) on BTC/USDT"),
        (D("1E+30"), {}, "INVALID_AMOUNT", "is over 10^24 amount steps"),
        (D("1"), {"stop_loss": D("NaN")}, "INVALID_PRICE", "stop_loss NaN on BTC/USDT"),
        (D("1"), {"take_profit": D("-Infinity")}, "INVALID_PRICE", "take_profit -Infinity"),
    ],
)
def test_an_amount_or_price_no_market_takes_is_denied_by_name(
    amount: object, fields: dict[str, object], code: str, said: str
) -> None:
    """A strategy's NaN, infinite, negative or absurd figure is a denial naming it, never an
    exception out of the risk engine (Decimal arithmetic on it raised before)."""
    from dataclasses import replace

    intent = replace(buy("1"), amount=amount, **fields)
    d = Rig().check(intent)
    assert (d.approved, d.code) == (False, code)
    assert said in d.reason


def test_a_limit_order_at_a_nan_price_is_denied() -> None:
    from dataclasses import replace

    from tradeguard.model.enums import OrderType

    intent = replace(buy("1"), type=OrderType.LIMIT, price=D("NaN"))
    d = Rig().check(intent)
    assert (d.approved, d.code) == (False, "INVALID_PRICE")
    assert "price NaN on BTC/USDT: must be a finite Decimal" in d.reason


def test_a_refused_hand_close_of_a_position_of_no_strategy_gives_advice_that_can_be_followed() -> (
    None
):
    # A position of no strategy (outcome contracts a fill the node did not make opened) has the
    # id "", which no order can carry (the API's strategy_id is 1-40 characters): the reason
    # must not tell the user to send the close under it.
    rig = Rig()
    rig.book.hold("BTC/USDT", D(1), D(100), strategy_id="")
    d = rig.check(sell("1", reduce_only=True, strategy_id="external"))
    assert d.code == "REDUCE_ONLY_WOULD_GROW"
    assert "strategy_id ''" not in d.reason, d.reason  # was: "send it under ... strategy_id ''"
    assert "no strategy holds 1" in d.reason and "outside the node" in d.reason, d.reason
