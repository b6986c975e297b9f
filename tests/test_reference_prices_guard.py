"""Reference prices pass the mark guard: a ticker reading 1000 times off values nothing."""

from __future__ import annotations

from decimal import Decimal

from test_reference_prices_failover import _Listing
from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.mark_guard import MarkGuard

D = Decimal


async def test_a_bad_reading_is_held_and_a_confirmed_one_taken() -> None:
    portfolio = Portfolio()
    portfolio.set_balances("a", [Balance("a", "ETH", D(10))])
    a = _Listing("ETH/USDT", D(2000))
    guard = MarkGuard(D(30), D(0))
    refs = ReferencePrices(portfolio, {"a": a}, take=guard.take)  # type: ignore[dict-item]
    await refs.refresh()
    assert portfolio.price_of("ETH") == D(2000)

    a.mid = D(2)  # one reading 1000 times off: the last mark stands
    assert await refs.refresh() == {}
    assert portfolio.price_of("ETH") == D(2000)
    assert guard.held("a", "ETH/USDT") == (D(2), D(2000))

    a.mid = D(2010)  # the next pass: back, the reading dropped
    await refs.refresh()
    assert portfolio.price_of("ETH") == D(2010) and guard.held("a", "ETH/USDT") is None

    a.mid = D(1000)  # a real halving: held for one pass, then confirmed
    await refs.refresh()
    assert portfolio.price_of("ETH") == D(2010)
    a.mid = D(990)
    await refs.refresh()
    assert portfolio.price_of("ETH") == D(990)
