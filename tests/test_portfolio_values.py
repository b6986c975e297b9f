"""A balance report valued when it is written gets the values of the marks it arrived at."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.balance import Balance
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal


def _balances() -> list[Balance]:
    return [
        Balance("paper", "BTC", D("1.5")),
        Balance("paper", "ETH", D("2"), D("0.5")),
        Balance("paper", "ADA", D("1000")),
        Balance("paper", "XRP", D("10")),  # no route to BTC at first
    ]


def test_values_at_an_earlier_copy_of_the_marks_are_the_values_of_then() -> None:
    portfolio = Portfolio(valuation_asset="BTC")
    portfolio.mark("ETH/BTC", D("0.05"))
    portfolio.mark("ADA/BTC", D("0.00001"))
    then = portfolio.values_of(_balances())
    copy = dict(portfolio.marks)
    # The marks move on and gain a symbol (which changes the cached price paths).
    portfolio.mark("ETH/BTC", D("0.07"))
    portfolio.mark("XRP/BTC", D("0.0001"))
    now = portfolio.values_of(_balances())

    assert portfolio.values_at(_balances(), copy) == then
    assert then["ETH"] == D("0.125") and "XRP" not in then
    # ...and the portfolio's own marks and valuation are left as they are.
    assert portfolio.marks["ETH/BTC"] == D("0.07")
    assert portfolio.values_of(_balances()) == now
    assert now["XRP"] == D("0.0010")
