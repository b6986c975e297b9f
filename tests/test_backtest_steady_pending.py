"""The market state and marks a steady stretch writes only when read (backtest/steady_pending.py)
are the ones eager writes leave: read after any candle, through any reader, in any order, and
at the stretch's end; a candle the mark guard decides in Decimal writes its mark only if taken."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest_support import write_config
from tradeguard.backtest import replay
from tradeguard.backtest.frames import parse_date
from tradeguard.backtest.runner import BacktestWindow, run_backtest
from tradeguard.backtest.steady import SteadyRun
from tradeguard.backtest.steady_pending import Pending
from tradeguard.config import load_config
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.state import MarketState
from tradeguard.model.balance import Balance
from tradeguard.model.market import Candle, Quote
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.strategies.loader import load_strategy_class

SYMBOLS = ("A/B", "C/B", "D/B")
T0 = 1_515_542_400_000
ONE = Decimal(1)


def _view(market: MarketState, portfolio: Portfolio) -> tuple[Any, ...]:
    """Everything the public readers give, in the dictionaries' own order."""
    return (
        list(market.candles.items()),
        [(s, market.mid(s), market.last_update_ms(s), market.valuation_mid("x", s))
         for s in SYMBOLS],
        list(portfolio.marks.items()),
        portfolio.marks_version(),
    )  # fmt: skip


def _pair(quoted: list[bool]) -> tuple[tuple[MarketState, Portfolio], ...]:
    """Two alike market states and portfolios, every symbol priced once (a candle), some quoted."""
    made = []
    for _ in range(2):
        market, portfolio = MarketState(), Portfolio()
        for n, symbol in enumerate(SYMBOLS):
            c = Candle(symbol, T0, *[Decimal(n + 1)] * 5, 300)
            market.on_candle(c)
            portfolio.marks[symbol] = c.close
            if quoted[n]:
                market.on_quote(Quote(symbol, T0 + 1, Decimal(n), ONE, Decimal(n + 2), ONE))
        made.append((market, portfolio))
    return made[0], made[1]


bars = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.integers(1, 10**6),  # the close, in millionths
        st.sampled_from(["lazy", "lazy", "lazy", "taken", "refused"]),  # how the guard decides
        st.booleans(),  # something reads after it
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(bars=bars, quoted=st.lists(st.booleans(), min_size=3, max_size=3))
def test_values_written_when_read_are_the_eager_ones(bars, quoted) -> None:
    (eager, e_marks), (lazy, l_marks) = _pair(quoted)
    candles = [
        Candle(s, T0 + (j + 1) * 300_000, *[Decimal(p) / 10**6] * 4, Decimal(1), 300)
        for j, (s, p, _, _) in enumerate(bars)
    ]
    pend = Pending(candles, 0, lazy, l_marks._marks, len(SYMBOLS))
    lazy.pending = l_marks.pending = pend
    for k, (c, (_, _, how, read)) in enumerate(zip(candles, bars, strict=True)):
        eager.on_candle(c)  # the general loop: market.on_candle, then the mark once taken
        if how != "refused":
            e_marks.marks[c.symbol] = c.close
        pend.cur = k  # the steady loop
        if how != "lazy":  # decided in Decimal: written now, the mark only if taken
            pend.now(k)
            if how == "taken":
                l_marks._marks[c.symbol] = c.close
        if read:
            assert _view(lazy, l_marks) == _view(eager, e_marks)
    lazy.pending = l_marks.pending = None
    pend.settle()
    assert _view(lazy, l_marks) == _view(eager, e_marks)
    assert [(k, v) for k, v in lazy._last_ms.items()] == list(eager._last_ms.items())
    assert list(lazy._mid.items()) == list(eager._mid.items())


def test_a_quote_after_unwritten_candles_stays_the_latest() -> None:
    (eager, e_marks), (lazy, l_marks) = _pair([False, False, False])
    candles = [Candle("A/B", T0 + j * 300_000, *[Decimal(j + 7)] * 5, 300) for j in (1, 2)]
    pend = Pending(candles, 0, lazy, l_marks._marks, len(SYMBOLS))
    lazy.pending = l_marks.pending = pend
    quote = Quote("A/B", T0 + 700_000, Decimal(3), ONE, Decimal(5), ONE)
    for k, c in enumerate(candles):
        eager.on_candle(c)
        e_marks.marks["A/B"] = c.close
        pend.cur = k
    eager.on_quote(quote)
    lazy.on_quote(quote)  # a writer settles first: the candles go under the quote
    assert _view(lazy, l_marks) == _view(eager, e_marks)
    assert lazy.last_update_ms("A/B") == T0 + 700_000 and lazy.mid("A/B") == Decimal(4)


@pytest.mark.parametrize("writer", ["candle", "book"])
def test_a_candle_or_book_after_unwritten_candles_stays_the_latest(writer) -> None:
    """A writer settles first: the unwritten candles go under what it writes, never over it."""
    (eager, e_marks), (lazy, l_marks) = _pair([False, False, False])
    candles = [Candle("A/B", T0 + j * 300_000, *[Decimal(j + 7)] * 5, 300) for j in (1, 2)]
    pend = Pending(candles, 0, lazy, l_marks._marks, len(SYMBOLS))
    lazy.pending = l_marks.pending = pend
    for k, c in enumerate(candles):
        eager.on_candle(c)
        e_marks.marks["A/B"] = c.close
        pend.cur = k
    if writer == "candle":
        newest: Any = Candle("A/B", T0 + 900_000, *[Decimal(20)] * 5, 60)
        eager.on_candle(newest)
        lazy.on_candle(newest)
    else:
        newest = OrderBook("A/B")
        newest.apply_snapshot([(Decimal(19), ONE)], [(Decimal(21), ONE)], T0 + 950_000)
        eager.on_book(newest)
        lazy.on_book(newest)
    assert _view(lazy, l_marks) == _view(eager, e_marks)
    assert lazy.mid("A/B") == Decimal(20)
    assert lazy.last_update_ms("A/B") == (T0 + 960_000 if writer == "candle" else T0 + 950_000)


def test_the_portfolios_own_readers_settle_while_candles_are_unwritten() -> None:
    """`mark_of`, `price_of`, `mark_or` and `equity` read the marks after settling (they read
    the dictionary directly only while nothing is pending)."""
    market, portfolio = MarketState(), Portfolio(valuation_asset="B")
    for n, symbol in enumerate(SYMBOLS):
        market.on_candle(Candle(symbol, T0, *[Decimal(n + 1)] * 5, 300))
        portfolio.marks[symbol] = Decimal(n + 1)
    portfolio.set_balances("x", [Balance("x", "A", Decimal(2)), Balance("x", "C", Decimal(3))])
    prices = (("A/B", 7), ("C/B", 5), ("A/B", 8))
    candles = [Candle(s, T0 + 300_000, *[Decimal(p)] * 5, 300) for s, p in prices]
    assert portfolio.price_of("C", "B") == 2 and portfolio.equity() == 2 * 1 + 3 * 2  # cached
    pend = Pending(candles, 0, market, portfolio._marks, len(SYMBOLS))
    market.pending = portfolio.pending = pend
    pend.cur = 0  # A/B's candle noted, not written
    assert portfolio.mark_of("x", "A/B") == (Decimal(7), False)
    pend.cur = 1
    assert portfolio.price_of("C", "B") == Decimal(5)
    pend.cur = 2
    assert portfolio.equity() == Decimal(2 * 8 + 3 * 5)
    portfolio.pending = market.pending = None
    assert portfolio.mark_or("x", "C/B", ONE) == Decimal(5)  # nothing pending: read as it is


# Reads the market state, the marks and the equity on candles a seed picks, recording them.
READER = """
import random
from tradeguard.strategies.base import Strategy

SEEN = []
PICK = random.Random(0)


class Reader(Strategy):
    def on_candle(self, candle):
        if PICK.random() < 0.3:
            node = self.ctx._node
            market, marks = node.market, node.portfolio.marks
            SEEN.append((candle.symbol, candle.ts, self.ctx.now_ms(), str(self.ctx.equity()),
                         sorted((s, c.ts, str(c.close)) for s, c in market.candles.items()),
                         [(s, str(market.mid(s)), market.last_update_ms(s)) for s in marks],
                         sorted((s, str(p)) for s, p in marks.items())))
"""


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.sampled_from([0.02, 0.3, 1.0]))
def test_a_strategy_reading_at_any_candle_sees_the_general_loops_values(
    tmp_path_factory, data_dir, seed, share
) -> None:
    tmp_path = tmp_path_factory.mktemp("reader")
    path = tmp_path / "reader.py"
    path.write_text(READER.replace("0.3", str(share)), encoding="utf-8")
    kind = f"{path}:Reader"
    config = load_config(write_config(tmp_path, pairs=("ETH", "ADA", "LTC")))
    for sc in config.strategies:
        sc.kind, sc.params = kind, {}
    window = BacktestWindow(parse_date("2018-01-12"), parse_date("2018-01-14"), commit_every=700)
    module: Any = sys.modules[load_strategy_class(kind).__module__]
    ran: list[int] = []
    real_run, real_modes = SteadyRun.run, replay._modes

    def counting(self, i, lo, hi, commit_due):
        out = real_run(self, i, lo, hi, commit_due)
        ran.append(out[0] - i + 1)
        return out

    results = []
    for general in (True, False):
        module.SEEN.clear()
        module.PICK.seed(seed)
        replay._modes = (lambda *a: (*real_modes(*a)[:-1], None)) if general else real_modes
        SteadyRun.run = counting  # type: ignore[method-assign]
        try:
            result = run_backtest(config, tmp_path / f"run{general}", window)
        finally:
            replay._modes, SteadyRun.run = real_modes, real_run  # type: ignore[method-assign]
        results.append((list(module.SEEN), result.curve, result.summary.end_equity))
    assert sum(ran) > 1000  # the steady loop ran most candles
    assert results[0][0] and results[1] == results[0]
