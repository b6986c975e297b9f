"""A fill row priced where no outcome contract trades (0 and below, 1 and above) is a venue
answer gone wrong: refused like any row no venue would send (ValueError naming the field, the
row skipped with a warning), never booked as contracts bought for nothing or for 1.50 each."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from pm_support import rsa_pem
from tradeguard.clock import Clock
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.polymarket.venue import PolymarketVenue
from tradeguard.venues.user_stream import parsed_rows

KALSHI_ROW = {
    "fill_id": "f1", "order_id": "o1", "client_order_id": "c1", "ticker": "KXFED",
    "side": "yes", "action": "buy", "count_fp": "10.00", "yes_price_dollars": "0.4000",
    "no_price_dollars": "0.6000", "fee_cost": "0.17", "is_taker": True,
    "created_time": "2026-12-01T10:00:00.123Z",
}  # fmt: skip
PM_ROW = {
    "id": "t1", "trader_side": "TAKER", "taker_order_id": "0xabc", "asset_id": "1",
    "side": "BUY", "price": "0.38", "size": "20", "fee_paid": "0.09",
    "match_time": "1700000000",
}  # fmt: skip


PEM, _ = rsa_pem()


def _kalshi() -> KalshiVenue:
    return KalshiVenue("kalshi", "http://127.0.0.1:9/trade-api/v2", "k1", PEM, Clock())


def _pm() -> PolymarketVenue:
    return PolymarketVenue("polymarket", "http://127.0.0.1:9", Account.create().key.hex(), Clock())


@pytest.mark.parametrize(
    ("side", "key", "price"),
    [("yes", "yes_price_dollars", "1.5"), ("yes", "yes_price_dollars", "1"),
     ("yes", "yes_price_dollars", "0"), ("no", "no_price_dollars", "1.2500"),
     ("no", "no_price_dollars", "0.0000")],
)  # fmt: skip
def test_a_kalshi_fill_priced_outside_zero_to_one_is_refused(side, key, price) -> None:
    venue = _kalshi()
    row = {**KALSHI_ROW, "side": side, key: price}
    with pytest.raises(ValueError, match=key):
        venue.fill_from(row)
    assert parsed_rows("kalshi", [row], venue.fill_from) == []


@pytest.mark.parametrize("price", ["1.5", "1", "0", "7"])
def test_a_polymarket_fill_priced_outside_zero_to_one_is_refused(price) -> None:
    venue = _pm()
    row = {**PM_ROW, "price": price}
    with pytest.raises(ValueError, match="price"):
        venue.fills_from(row)
    assert parsed_rows("polymarket", [row], venue.fills_from) == []


def test_fills_at_possible_prices_still_parse() -> None:
    assert _kalshi().fill_from(KALSHI_ROW).price == Decimal("0.4000")
    no = _kalshi().fill_from({**KALSHI_ROW, "side": "no"})
    assert no.price == Decimal("0.6000")
    assert _pm().fills_from(PM_ROW)[0].price == Decimal("0.38")


def test_an_unreadable_row_is_noted_under_the_orders_it_names() -> None:
    kalshi, noted = _kalshi(), {}
    assert parsed_rows("kalshi", [{**KALSHI_ROW, "yes_price_dollars": "1.5"}],
                       kalshi.fill_from, noted) == []  # fmt: skip
    assert list(noted) == ["o1"] and "yes_price_dollars: '1.5'" in noted["o1"]
    pm, noted = _pm(), {}
    entry = {"order_id": "0xmine", "maker_address": pm.signer.address, "asset_id": "1",
             "side": "BUY", "price": "2", "matched_amount": "20"}  # fmt: skip
    maker = {**PM_ROW, "trader_side": "MAKER", "maker_orders": [entry]}
    assert parsed_rows("polymarket", [{**PM_ROW, "price": "0"}, maker],
                       pm.fills_from, noted) == []  # fmt: skip
    assert sorted(noted) == ["0xabc", "0xmine"] and "price: '2'" in noted["0xmine"]
    assert parsed_rows("polymarket", [{**maker, "maker_orders": [{"order_id": "0xmine"}, 7]}],
                       pm.fills_from, noted) == []  # fmt: skip
    assert "maker_orders" in noted["0xmine"]
