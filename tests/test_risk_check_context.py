"""The engine's one reused check context: nested checks, a check that raised, dry runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from test_risk_support import T0, D, Rig, buy
from tradeguard.model import Event
from tradeguard.model.events import EventKind
from tradeguard.risk import RiskDecision, RiskEngine


def test_a_check_begun_from_an_event_handler_leaves_the_outer_check_intact() -> None:
    rig = Rig()
    rig.market.set("ETH/USDT", D(50), T0)
    nested: list[RiskDecision] = []

    def emit(event: Event) -> None:
        rig.events.append(event)
        # BTC's data is fresh again: its stale-data breaker resets in the middle of the check.
        if event.kind == EventKind.BREAKER_RESET and not nested:
            nested.append(engine.check(buy("1", None, symbol="ETH/USDT"), rig.book, rig.market))

    engine = rig.engine = RiskEngine(rig.config, rig.clock, rig.store, emit)
    rig.clock.advance_to(T0 + 60_001)
    assert rig.check(buy("0.5")).code == "STALE_MARKET_DATA"
    rig.at(T0 + 61_000)
    outer = rig.check(buy("0.5", "100.5"))
    assert (outer.approved, outer.price_bound, str(outer.value)) == (True, None, "50.25")
    inner = nested[0]
    assert (inner.approved, inner.price_bound, str(inner.value)) == (True, D("50.50"), "50.50")
    approved = [(e.symbol, e.data["notional_usd"]) for e in rig.kinds(EventKind.RISK_APPROVED)]
    assert approved == [("ETH/USDT", "50.50"), ("BTC/USDT", "50.25")]
    assert engine.trades_today == 2


class _FailingBook:
    """A portfolio view whose equity cannot be read once."""

    def __init__(self, rig: Rig) -> None:
        self.book = rig.book
        self.fail = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.book, name)

    def equity(self) -> Decimal:
        if self.fail:
            self.fail = False
            raise ConnectionError("balances unavailable")
        return self.book.equity()


def test_a_check_that_raised_leaves_the_next_check_whole() -> None:
    rig = Rig()
    book = _FailingBook(rig)
    with pytest.raises(ConnectionError):
        rig.engine.check(buy("1", None), book, rig.market)  # a market order sets its bound
    d = rig.engine.check(buy("0.5", "99.5"), book, rig.market)
    assert (d.approved, d.price_bound, str(d.value)) == (True, None, "49.75")


def test_a_dry_run_counts_nothing_and_publishes_nothing() -> None:
    rig = Rig(max_orders_per_s=D(1))
    for _ in range(3):
        d = rig.engine.check(buy("0.5"), rig.book, rig.market, dry_run=True)
        assert d.approved
    assert rig.events == [] and rig.engine.trades_today == 0
    assert rig.check(buy("0.5")).approved  # the one token of this second is still there
    assert rig.check(buy("0.5")).code == "ORDER_RATE"
    assert rig.engine.trades_today == 1


@pytest.mark.parametrize("cash", [D(0), D(-50)])
def test_no_equity_under_a_minimum_balance_is_refused_by_the_minimum_balance(cash: Decimal) -> None:
    rig = Rig(cash=cash)  # min_account_balance_usd=100 is checked before equity itself
    d = rig.check(buy("0.5"))
    assert (d.approved, d.code, d.value) == (False, "MIN_ACCOUNT_BALANCE", cash)
