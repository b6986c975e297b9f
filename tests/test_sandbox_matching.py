"""Matching engine: price-time priority, fills, fees, locked balances and conservation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradeguard.sandbox.matching import (
    BUY,
    CANCELED,
    EXPIRED,
    FEE_ACCOUNT,
    FILLED,
    LIMIT,
    MARKET,
    NEW,
    PARTIALLY_FILLED,
    SELL,
    EngineReject,
    MarketSpec,
    MatchingEngine,
)

SPEC = MarketSpec(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick=D("0.01"),
    step=D("0.001"),
    min_qty=D("0.001"),
    min_notional=D("5"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)


def engine() -> MatchingEngine:
    e = MatchingEngine()
    e.add_market(SPEC)
    for name in ("a", "b", "c"):
        e.add_account(name, {"USDT": D("100000"), "BTC": D("10")})
    return e


def bal(e: MatchingEngine, acc: str, asset: str) -> tuple[D, D]:
    b = e.accounts[acc].bal(asset)
    return b.free, b.locked


def test_limit_buy_locks_quote_and_cancel_releases_it() -> None:
    e = engine()
    r = e.place("a", "BTCUSDT", BUY, LIMIT, 1, qty=D("1"), price=D("100"))
    assert r.order is not None and r.order.status == NEW and r.order.on_book
    assert bal(e, "a", "USDT") == (D("99900"), D("100"))
    e.cancel("a", "BTCUSDT", 2, order_id=r.order.order_id)
    assert r.order.status == CANCELED
    assert bal(e, "a", "USDT") == (D("100000"), D("0"))


def test_price_time_priority_fills_best_price_then_oldest() -> None:
    e = engine()
    first = e.place("a", "BTCUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("101")).order
    second = e.place("b", "BTCUSDT", SELL, LIMIT, 2, qty=D("1"), price=D("101")).order
    better = e.place("c", "BTCUSDT", SELL, LIMIT, 3, qty=D("1"), price=D("100.5")).order
    r = e.place("a", "BTCUSDT", BUY, LIMIT, 4, qty=D("1.5"), price=D("101"))
    assert [(t.price, t.qty) for t in r.trades] == [(D("100.5"), D("1")), (D("101"), D("0.5"))]
    assert r.trades[1].seller_order_id == first.order_id  # type: ignore[union-attr]
    assert better.status == FILLED  # type: ignore[union-attr]
    assert first.status == PARTIALLY_FILLED  # type: ignore[union-attr]
    assert second.status == NEW  # type: ignore[union-attr]
    assert [t.trade_id for t in r.trades] == sorted(t.trade_id for t in r.trades)


def test_taker_limit_buy_gets_price_improvement_refunded() -> None:
    e = engine()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("100"))
    e.place("a", "BTCUSDT", BUY, LIMIT, 2, qty=D("1"), price=D("110"))
    # Paid 100, not the 110 limit; nothing stays locked.
    assert bal(e, "a", "USDT") == (D("99900"), D("0"))


def test_fees_buyer_pays_base_seller_pays_quote_at_maker_and_taker_rates() -> None:
    e = engine()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("2"), price=D("100"))  # maker seller
    r = e.place("a", "BTCUSDT", BUY, MARKET, 2, qty=D("2"))  # taker buyer
    t = r.trades[0]
    assert t.buyer_fee == D("0.004")  # 2 BTC * 0.2% taker, in BTC
    assert t.seller_fee == D("0.2")  # 200 USDT * 0.1% maker, in USDT
    assert bal(e, "a", "BTC") == (D("11.996"), D("0"))
    assert bal(e, "b", "USDT") == (D("100199.8"), D("0"))
    assert bal(e, FEE_ACCOUNT, "BTC")[0] == D("0.004")
    assert bal(e, FEE_ACCOUNT, "USDT")[0] == D("0.2")


def test_trading_conserves_every_asset_across_accounts_including_fees() -> None:
    e = engine()
    before = e.totals()
    e.place("a", "BTCUSDT", SELL, LIMIT, 1, qty=D("1.234"), price=D("100.01"))
    e.place("b", "BTCUSDT", SELL, LIMIT, 2, qty=D("0.5"), price=D("99.99"))
    e.place("c", "BTCUSDT", BUY, LIMIT, 3, qty=D("1.5"), price=D("101"))
    e.place("b", "BTCUSDT", BUY, MARKET, 4, quote_qty=D("20"))
    e.place("c", "BTCUSDT", BUY, LIMIT, 5, qty=D("0.3"), price=D("99"))
    e.place("a", "BTCUSDT", SELL, MARKET, 6, qty=D("0.2"))
    assert e.totals() == before
    assert bal(e, FEE_ACCOUNT, "USDT")[0] > 0


def test_ioc_remainder_expires_and_fok_without_liquidity_fills_nothing() -> None:
    e = engine()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("100"))
    ioc = e.place("a", "BTCUSDT", BUY, LIMIT, 2, qty=D("2"), price=D("100"), time_in_force="IOC")
    assert ioc.order is not None and ioc.order.status == EXPIRED
    assert ioc.order.executed_qty == D("1")
    assert bal(e, "a", "USDT")[1] == 0
    e.place("b", "BTCUSDT", SELL, LIMIT, 3, qty=D("1"), price=D("100"))
    fok = e.place("a", "BTCUSDT", BUY, LIMIT, 4, qty=D("2"), price=D("100"), time_in_force="FOK")
    assert fok.order is not None and fok.order.status == EXPIRED and fok.trades == []


def test_market_buy_by_quote_amount_spends_at_most_that_amount() -> None:
    e = engine()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("100"))
    r = e.place("a", "BTCUSDT", BUY, MARKET, 2, quote_qty=D("50.05"))
    assert r.order is not None and r.order.status == FILLED
    assert r.order.executed_qty == D("0.5") and r.order.cum_quote == D("50.0")


def test_capped_fill_leaves_order_working_until_resumed() -> None:
    e = engine()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("3"), price=D("100"))
    r = e.place("a", "BTCUSDT", BUY, LIMIT, 2, qty=D("3"), price=D("100"), max_fill_qty=D("1"))
    order = r.order
    assert order is not None and order.working and order.status == PARTIALLY_FILLED
    e.resume(order.order_id, 3, D("1"))
    assert order.executed_qty == D("2")
    e.resume(order.order_id, 4)
    assert order.status == FILLED and not order.working


@pytest.mark.parametrize(
    ("qty", "price", "message"),
    [
        (D("1"), D("100.001"), "Filter failure: PRICE_FILTER"),
        (D("0.0015"), D("100"), "Filter failure: LOT_SIZE"),
        (D("0.001"), D("100"), "Filter failure: NOTIONAL"),
    ],
)
def test_filters_reject_with_binance_code(qty: D, price: D, message: str) -> None:
    e = engine()
    with pytest.raises(EngineReject) as info:
        e.place("a", "BTCUSDT", BUY, LIMIT, 1, qty=qty, price=price)
    assert (info.value.code, info.value.msg) == (-1013, message)


def test_insufficient_balance_and_duplicate_client_id_are_rejected() -> None:
    e = engine()
    with pytest.raises(EngineReject) as info:
        e.place("a", "BTCUSDT", BUY, LIMIT, 1, qty=D("2000"), price=D("100"))
    assert info.value.code == -2010 and "insufficient balance" in info.value.msg
    e.place("a", "BTCUSDT", BUY, LIMIT, 1, qty=D("1"), price=D("90"), client_order_id="x1")
    with pytest.raises(EngineReject) as dup:
        e.place("a", "BTCUSDT", BUY, LIMIT, 2, qty=D("1"), price=D("90"), client_order_id="x1")
    assert (dup.value.code, dup.value.msg) == (-2010, "Duplicate order sent.")


def test_unknown_order_cancel_is_minus_2011_and_query_is_minus_2013() -> None:
    e = engine()
    with pytest.raises(EngineReject) as cancel:
        e.cancel("a", "BTCUSDT", 1, order_id=999)
    assert cancel.value.code == -2011
    with pytest.raises(EngineReject) as query:
        e.find_order("a", "BTCUSDT", client_order_id="nope")
    assert query.value.code == -2013


def test_set_book_crossing_a_resting_order_fills_it() -> None:
    e = engine()
    r = e.place("a", "BTCUSDT", BUY, LIMIT, 1, qty=D("1"), price=D("100"))
    e.set_book("BTCUSDT", bids=[], asks=[(D("99.5"), D("0.4"))], now_ms=2)
    assert r.order is not None and r.order.executed_qty == D("0.4")
    assert r.order.status == PARTIALLY_FILLED


def _with_bnb(e: MatchingEngine) -> MatchingEngine:
    e.add_market(MarketSpec("BNBUSDT", "BNB", "USDT", D("0.1"), D("0.001"), D("0.001"), D("5"),
                            D("0.001"), D("0.001")))  # fmt: skip
    e.add_account("d", {"BNB": D("100"), "USDT": D("1000")})
    e.place("d", "BNBUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("601"))
    e.place("d", "BNBUSDT", BUY, LIMIT, 2, qty=D("1"), price=D("599"))  # BNB at 600 (mid)
    return e


def test_an_account_paying_fees_in_bnb_pays_less_in_bnb_while_its_bnb_lasts() -> None:
    e = _with_bnb(engine())
    e.add_account("a", {"BNB": D("0.001")}).bnb_fees = True
    before = e.totals()
    e.place("b", "BTCUSDT", SELL, LIMIT, 1, qty=D("2"), price=D("100"))
    first = e.place("a", "BTCUSDT", BUY, MARKET, 2, qty=D("1")).trades[0]
    # 100 USDT * 0.2 % taker, 25 % off, at 600 USDT a BNB: in BNB, the whole BTC received
    assert (first.buyer_fee, first.buyer_fee_asset) == (D("0.00025"), "BNB")
    assert bal(e, "a", "BTC")[0] == D("11") and bal(e, "a", "BNB")[0] == D("0.00075")
    assert (first.seller_fee, first.seller_fee_asset) == (D("0.1"), "USDT")  # b: option off
    assert e.totals() == before  # BNB moved to the fee account, nothing made or lost
    assert bal(e, FEE_ACCOUNT, "BNB")[0] == D("0.00025")
    e.accounts["a"].bal("BNB").free = D("0.0001")  # not enough for the next fee
    second = e.place("a", "BTCUSDT", BUY, MARKET, 3, qty=D("1")).trades[0]
    assert (second.buyer_fee, second.buyer_fee_asset) == (D("0.002"), "BTC")


def test_one_account_on_both_sides_pays_its_second_bnb_fee_only_from_what_is_left() -> None:
    e = _with_bnb(engine())
    e.add_account("s", {"BNB": D("0.0003"), "USDT": D("1000"), "BTC": D("5")}).bnb_fees = True
    before = e.totals()
    e.place("s", "BTCUSDT", SELL, LIMIT, 1, qty=D("1"), price=D("100"))
    t = e.place("s", "BTCUSDT", BUY, MARKET, 2, qty=D("1")).trades[0]
    # the buyer's 0.00025 BNB leaves 0.00005: the seller's 0.000125 is paid in USDT instead
    assert (t.buyer_fee_asset, t.seller_fee_asset) == ("BNB", "USDT")
    assert bal(e, "s", "BNB")[0] == D("0.00005")
    assert e.totals() == before
