"""Stop-loss and take-profit orders and OCO lists in the matching engine (Binance semantics)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradeguard.sandbox.contingent import Leg
from tradeguard.sandbox.matching import (
    CANCELED,
    EXPIRED,
    FILLED,
    NEW,
    EngineReject,
    MarketSpec,
    MatchingEngine,
)

SPEC = MarketSpec("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.001"), D("0.001"), D("5"))


def engine() -> MatchingEngine:
    e = MatchingEngine()
    e.add_market(SPEC)
    e.add_account("a", {"USDT": D("100000"), "BTC": D("10")})
    e.set_book("BTCUSDT", [(D("99"), D("5"))], [(D("101"), D("5"))], now_ms=1)
    e.trade_through("BTCUSDT", "BUY", D("101"), D("0.001"), now_ms=1)  # last price 101
    return e


def bal(e: MatchingEngine, asset: str) -> tuple[D, D]:
    b = e.accounts["a"].bal(asset)
    return b.free, b.locked


def trade(e: MatchingEngine, side: str, price: str) -> None:
    e.set_book("BTCUSDT", [(D(price), D("5"))], [(D(price) + 1, D("5"))], now_ms=2)
    e.trade_through("BTCUSDT", side, D(price), D("0.001"), now_ms=2)


def test_take_profit_buy_triggers_when_price_falls_to_its_stop() -> None:
    e = engine()
    r = e.place("a", "BTCUSDT", "BUY", "TAKE_PROFIT", 1, qty=D("1"), stop_price=D("95"))
    order = r.order
    assert order is not None and order.status == NEW and not order.on_book
    assert bal(e, "USDT") == (D("99905"), D("95"))  # market stop buy locks qty x stop price
    trade(e, "SELL", "96")
    assert e.trigger_stops("BTCUSDT", 3).trades == []
    trade(e, "SELL", "95")
    triggered = e.trigger_stops("BTCUSDT", 3)
    assert [t.price for t in triggered.trades] == [D("96")]  # bought at the ask above 95
    assert order.status == FILLED and order.triggered
    assert bal(e, "USDT")[1] == 0


def test_cancelling_a_pending_stop_releases_its_funds() -> None:
    e = engine()
    o1 = e.place("a", "BTCUSDT", "SELL", "STOP_LOSS", 1, qty=D("6"), stop_price=D("90")).order
    assert o1 is not None
    e.place("a", "BTCUSDT", "SELL", "LIMIT", 1, qty=D("4"), price=D("200"))
    e.cancel("a", "BTCUSDT", 1, order_id=o1.order_id)
    assert o1.status == CANCELED and bal(e, "BTC") == (D("6"), D("4"))
    assert e.contingent.pending["BTCUSDT"] == []


def test_stop_order_parameters_are_checked_like_binance() -> None:
    e = engine()
    with pytest.raises(EngineReject, match="'stopPrice' was not sent") as missing:
        e.place("a", "BTCUSDT", "SELL", "STOP_LOSS_LIMIT", 1, qty=D("1"), price=D("90"))
    assert missing.value.code == -1102
    with pytest.raises(EngineReject, match="'price' sent when not required"):
        e.place("a", "BTCUSDT", "SELL", "STOP_LOSS", 1, qty=D("1"), price=D("1"), stop_price=D("9"))
    with pytest.raises(EngineReject, match="would trigger immediately") as at_once:
        e.place("a", "BTCUSDT", "BUY", "STOP_LOSS", 1, qty=D("1"), stop_price=D("100"))
    assert at_once.value.code == -2010
    with pytest.raises(EngineReject, match="PRICE_FILTER"):
        e.place("a", "BTCUSDT", "SELL", "STOP_LOSS", 1, qty=D("1"), stop_price=D("90.001"))
    with pytest.raises(EngineReject, match="'stopPrice' sent when not required"):
        e.place("a", "BTCUSDT", "SELL", "LIMIT", 1, qty=D("1"), price=D("200"), stop_price=D("1"))


def test_oco_prices_must_bracket_the_last_price() -> None:
    e = engine()
    with pytest.raises(EngineReject, match="relationship of the prices"):
        e.contingent.place_oco(
            "a", "BTCUSDT", "SELL", D("1"), Leg("LIMIT_MAKER", price=D("100")),
            Leg("STOP_LOSS", stop_price=D("90")), "", 1,
        )  # fmt: skip
    with pytest.raises(EngineReject, match="OCO SELL needs aboveType"):
        e.contingent.place_oco(
            "a", "BTCUSDT", "SELL", D("1"), Leg("STOP_LOSS", stop_price=D("120")),
            Leg("LIMIT_MAKER", price=D("90")), "", 1,
        )  # fmt: skip
    assert e.orders and all(o.account_id != "a" for o in e.orders.values())


def test_cancelling_one_oco_leg_cancels_the_list_and_frees_the_funds() -> None:
    e = engine()
    lst, _ = e.contingent.place_oco(
        "a", "BTCUSDT", "SELL", D("2"), Leg("LIMIT_MAKER", price=D("120")),
        Leg("STOP_LOSS_LIMIT", price=D("89"), stop_price=D("90")), "mine", 1,
    )  # fmt: skip
    assert bal(e, "BTC") == (D("8"), D("2"))
    stop_id, limit_id = lst.order_ids
    e.cancel("a", "BTCUSDT", 2, order_id=stop_id)
    assert {e.orders[i].status for i in lst.order_ids} == {CANCELED}
    assert bal(e, "BTC") == (D("10"), D("0"))
    assert e.contingent.list_status(lst.list_id) == ("ALL_DONE", "ALL_DONE")
    assert e.orders[limit_id].order_list_id == lst.list_id


def test_triggered_stop_limit_rests_on_the_book_when_nothing_crosses() -> None:
    e = engine()
    o = e.place(
        "a", "BTCUSDT", "SELL", "STOP_LOSS_LIMIT", 1, qty=D("1"), price=D("50"),
        stop_price=D("90"), time_in_force="GTC",
    ).order  # fmt: skip
    assert o is not None
    e.set_book("BTCUSDT", [(D("45"), D("5"))], [(D("46"), D("5"))], now_ms=2)
    e.trade_through("BTCUSDT", "BUY", D("46"), D("0.001"), now_ms=2)
    e.trigger_stops("BTCUSDT", 3)
    assert o.triggered and o.on_book and o.status == NEW  # a sell limit at 50 above a 46 ask


def test_stop_market_buy_expires_when_the_book_costs_more_than_the_account_holds() -> None:
    e = engine()
    e.add_account("p", {"USDT": D("105.5")})
    o = e.place("p", "BTCUSDT", "BUY", "STOP_LOSS", 1, qty=D("1"), stop_price=D("105")).order
    assert o is not None
    trade(e, "SELL", "105")  # asks now at 106: one BTC costs more than 105.5
    result = e.trigger_stops("BTCUSDT", 3)
    assert o.status == EXPIRED and result.trades == []
    assert e.accounts["p"].bal("USDT").free == D("105.5")
