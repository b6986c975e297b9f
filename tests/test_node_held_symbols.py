"""The node's held symbols are kept per set of held assets: a set met again (a pair bought and
sold again) answers from what was kept, and that answer must be what working it out afresh
gives, whatever changed in between (new marks, a venue's own marks, another portfolio)."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.model.balance import Balance
from tradeguard.node.held import HeldSymbols
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal
ASSETS = ("BTC", "ETH", "ADA", "USDT", "XLM")
SYMBOLS = ("ETH/BTC", "ADA/BTC", "BTC/USDT", "ADA/ETH", "XLM/USDT", "ETH/USDT")


def _hold(p: Portfolio, held: set[str]) -> None:
    p.set_balances("paper", [Balance("paper", a, D(1) if a in held else D(0)) for a in ASSETS])


def test_kept_sets_answer_as_a_fresh_reading_would():
    rnd = random.Random(7)
    for valuation in ("USDT", "BTC"):
        p = Portfolio(valuation)
        kept = HeldSymbols()
        for _ in range(400):
            step = rnd.random()
            if step < 0.15:
                symbol = rnd.choice(SYMBOLS)
                p.mark(symbol, D(rnd.randint(1, 9)), rnd.choice(("", "", "paper")))
            else:
                _hold(p, {a for a in ASSETS if rnd.random() < 0.4})
            assert kept.of(p) == HeldSymbols().of(p)


def test_a_set_met_again_after_a_new_mark_counts_the_new_symbol():
    p = Portfolio("USDT")
    p.mark("BTC/USDT", D(20000))
    kept = HeldSymbols()
    _hold(p, {"ETH"})
    assert kept.of(p) == frozenset()  # no ETH market yet
    _hold(p, set())
    assert kept.of(p) == frozenset()
    p.mark("ETH/BTC", D("0.05"))
    _hold(p, {"ETH"})
    assert kept.of(p) == {"ETH/BTC", "BTC/USDT"}  # ETH through BTC now, not the old answer


def test_another_portfolio_is_not_answered_from_the_first():
    kept = HeldSymbols()
    a, b = Portfolio("USDT"), Portfolio("USDT")
    a.mark("ETH/USDT", D(1000))
    b.mark("ETH/BTC", D("0.05"))
    _hold(a, {"ETH"})
    _hold(b, {"ETH"})
    assert kept.of(a) == {"ETH/USDT"}
    assert kept.of(b) == {"ETH/BTC"}


_AMOUNTS = st.sampled_from([D(0), D("0.0"), D(1), D(-1), D("0.5"), D("-0.5"), D("1E-8")])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(("paper", "other")), st.sampled_from(ASSETS), _AMOUNTS, _AMOUNTS),
        max_size=12,
    ),
    st.lists(st.sampled_from(SYMBOLS), max_size=6),
)
def test_held_assets_are_those_with_a_nonzero_total_on_any_book(balances, marked):
    """An asset counts as held when its total (free + locked) on some book is not zero: owed
    and held alike (a negative free), a locked amount alone; not a book whose free and locked
    cancel out (free -1, locked 1) nor one at zero."""
    p = Portfolio("USDT")
    for symbol in marked:
        p.mark(symbol, D(2))
    for venue, asset, free, locked in balances:
        p.set_balances(venue, [Balance(venue, asset, free, locked)])
    assets = {b.asset for b in p.all_balances() if b.total != 0}
    expected = frozenset(s for s in p.marks if s.split("/")[0] in assets)
    assert HeldSymbols().of(p) == expected | p.route_symbols(assets)
