"""Reading ccxt `load_markets()` / `fetch_tickers()` JSON into scanner inputs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradeguard.strategies.triangular import MarketDataError, markets_from_ccxt, tickers_from_ccxt


def market(pair: str, **over: Any) -> dict[str, Any]:
    base, quote = pair.split("/")
    doc: dict[str, Any] = {
        "id": pair.replace("/", ""),
        "symbol": pair,
        "base": base,
        "quote": quote,
        "active": True,
        "type": "spot",
        "spot": True,
        "taker": 0.001,
        "maker": 0.001,
        "precision": {"amount": 0.0001, "price": 0.01},
        "limits": {"amount": {"min": 0.0001, "max": None}, "cost": {"min": 5.0, "max": None}},
    }
    doc.update(over)
    return doc


def test_markets_keep_fees_tick_precision_and_limits_as_decimals() -> None:
    (m,) = markets_from_ccxt({"ETH/USDT": market("ETH/USDT")})
    assert (m.symbol, m.base, m.quote) == ("ETH/USDT", "ETH", "USDT")
    assert m.taker_fee == Decimal("0.001")
    assert m.amount_step == Decimal("0.0001")
    assert m.price_tick == Decimal("0.01")
    assert m.min_notional == Decimal("5.0")
    assert m.min_amount == Decimal("0.0001")


def test_inactive_and_derivative_markets_are_skipped() -> None:
    doc = {
        "ETH/USDT": market("ETH/USDT"),
        "BTC/USDT": market("BTC/USDT", active=False),
        "BTC/USDT:USDT": market("BTC/USDT", symbol="BTC/USDT:USDT", type="swap", spot=False),
        "XRP/USDT": market("XRP/USDT", active=None),  # unknown counts as active, as in ccxt
    }
    assert [m.symbol for m in markets_from_ccxt(doc)] == ["ETH/USDT", "XRP/USDT"]


def test_decimal_places_precision_becomes_a_step() -> None:
    doc = {"ETH/USDT": market("ETH/USDT", precision={"amount": 4, "price": 2})}
    (m,) = markets_from_ccxt(doc, precision_mode="decimals")
    assert m.amount_step == Decimal("0.0001")
    assert m.price_tick == Decimal("0.01")


def test_fetch_markets_list_is_accepted() -> None:
    (m,) = markets_from_ccxt([market("ETH/USDT")])
    assert m.symbol == "ETH/USDT"


def test_missing_taker_fee_names_market_and_field_unless_a_default_is_given() -> None:
    doc = {"ETH/USDT": market("ETH/USDT", taker=None)}
    with pytest.raises(MarketDataError, match=r"m\.json: \['ETH/USDT'\]\.taker: missing"):
        markets_from_ccxt(doc, source="m.json")
    (m,) = markets_from_ccxt(doc, default_taker_fee=Decimal("0.00075"))
    assert m.taker_fee == Decimal("0.00075")


def test_malformed_market_values_name_the_field_and_the_value() -> None:
    doc = {"ETH/USDT": market("ETH/USDT", precision={"amount": "lots", "price": 0.01})}
    with pytest.raises(MarketDataError, match=r"\['ETH/USDT'\]\.precision\.amount: 'lots'"):
        markets_from_ccxt(doc)
    with pytest.raises(MarketDataError, match=r"expected a JSON object of markets"):
        markets_from_ccxt("not a dict")


def test_tickers_keep_both_sides_and_sizes_and_skip_one_sided_ones() -> None:
    doc = {
        "ETH/USDT": {
            "symbol": "ETH/USDT",
            "bid": 3000.5,
            "ask": 3001,
            "bidVolume": 2.5,
            "askVolume": None,
        },
        "BTC/USDT": {"symbol": "BTC/USDT", "bid": None, "ask": 60_000.0},
        "XRP/USDT": {"symbol": "XRP/USDT", "bid": 0.5, "ask": 0},
    }
    tickers = tickers_from_ccxt(doc)
    assert list(tickers) == ["ETH/USDT"]
    t = tickers["ETH/USDT"]
    assert (t.bid, t.ask, t.bid_size, t.ask_size) == (3000.5, 3001.0, 2.5, None)


def test_malformed_ticker_names_the_file_symbol_and_field() -> None:
    doc = {"ETH/USDT": {"symbol": "ETH/USDT", "bid": "n/a", "ask": 3001}}
    with pytest.raises(MarketDataError, match=r"t\.json: \['ETH/USDT'\]\.bid: 'n/a'"):
        tickers_from_ccxt(doc, source="t.json")
