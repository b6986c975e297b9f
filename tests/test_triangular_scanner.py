"""The cycle scanner against a brute-force reference, hand-computed cycles and update streams."""

from __future__ import annotations

import asyncio
import itertools
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeguard.model.enums import Side
from tradeguard.model.errors import ConfigError
from tradeguard.strategies.triangular import ArbMarket, Ticker, TriangularScanner
from tradeguard.strategies.triangular.universe import generate_universe

FEE = Decimal("0.001")


# -- brute-force reference -------------------------------------------------------------------
def brute_force(
    markets: list[ArbMarket], tickers: dict[str, Ticker], max_cycle: int, fee: float | None = None
) -> dict[frozenset[tuple[str, str]], float]:
    """Every simple directed cycle of 3..max_cycle legs -> its growth factor after fees."""
    edges: dict[tuple[str, str], list[tuple[tuple[str, str], float]]] = {}
    for m in markets:
        t = tickers.get(m.symbol)
        if t is None:
            continue
        keep = 1 - (float(m.taker_fee) if fee is None else fee)
        edges.setdefault((m.quote, m.base), []).append(((m.symbol, "buy"), keep / t.ask))
        edges.setdefault((m.base, m.quote), []).append(((m.symbol, "sell"), t.bid * keep))
    assets = sorted({a for m in markets for a in (m.base, m.quote)})
    found: dict[frozenset[tuple[str, str]], float] = {}
    for k in range(3, max_cycle + 1):
        for path in itertools.permutations(assets, k):
            if path[0] != min(path):  # one rotation per cycle
                continue
            hops = [edges.get((path[i], path[(i + 1) % k]), []) for i in range(k)]
            for choice in itertools.product(*hops):
                growth = 1.0
                for _, rate in choice:
                    growth *= rate
                found[frozenset(leg for leg, _ in choice)] = growth
    return found


def legs_of(scanner: TriangularScanner, cycle_id: int) -> frozenset[tuple[str, str]]:
    return frozenset((leg.symbol, leg.side.value) for leg in scanner.opportunity(cycle_id).legs)


@st.composite
def universes(draw: st.DrawFn) -> tuple[list[ArbMarket], dict[str, Ticker], int]:
    n = draw(st.integers(3, 6))
    assets = [f"C{i}" for i in range(n)]
    value = {a: draw(st.floats(0.01, 1000.0)) for a in assets}
    pairs = [p for p in itertools.combinations(assets, 2) if draw(st.booleans())]
    markets, tickers = [], {}
    for a, b in pairs:
        base, quote = (a, b) if draw(st.booleans()) else (b, a)
        symbol = f"{base}/{quote}"
        fee = draw(st.sampled_from([Decimal("0"), Decimal("0.0004"), Decimal("0.001")]))
        markets.append(ArbMarket(symbol, base, quote, fee))
        mid = value[base] / value[quote] * draw(st.floats(0.98, 1.02))
        spread = draw(st.floats(0.0, 0.003))
        if draw(st.integers(0, 9)) > 0:  # some markets have no quote
            tickers[symbol] = Ticker(symbol, mid * (1 - spread), mid * (1 + spread), 1.0, 1.0)
    return markets, tickers, draw(st.integers(3, 5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(universes())
def test_best_cycle_and_profit_equal_brute_force(
    universe: tuple[list[ArbMarket], dict[str, Ticker], int],
) -> None:
    markets, tickers, max_cycle = universe
    scanner = TriangularScanner(markets, max_cycle=max_cycle)
    scanner.load_tickers(tickers)
    reference = brute_force(markets, tickers, max_cycle)
    quoted = scanner.top_ids(scanner.n_cycles + 1)
    assert len(quoted) == len(reference)
    if not reference:
        assert scanner.best() is None
        return
    ranked = sorted(reference.values(), reverse=True)
    best = scanner.best()
    assert best is not None
    growth = 1 + float(best.profit_pct) / 100
    assert math.isclose(growth, ranked[0], rel_tol=1e-9)
    if len(ranked) == 1 or ranked[0] - ranked[1] > 1e-9 * ranked[0]:
        assert legs_of(scanner, best.cycle_id) == max(reference, key=lambda c: reference[c])
    # Every scanned cycle has its brute-force growth.
    for c in quoted:
        assert math.isclose(
            math.exp(float(scanner.scores()[c])), reference[legs_of(scanner, int(c))], rel_tol=1e-9
        )


def test_each_directed_cycle_is_indexed_once_up_to_length_five() -> None:
    assets = ["A", "B", "C", "D", "E"]
    markets = [ArbMarket(f"{a}/{b}", a, b, FEE) for a, b in itertools.combinations(assets, 2)]
    tickers = {m.symbol: Ticker(m.symbol, 1.0, 1.0) for m in markets}
    for max_cycle in (3, 4, 5):
        scanner = TriangularScanner(markets, max_cycle=max_cycle)
        scanner.load_tickers(tickers)
        ids = scanner.top_ids(10_000)
        assert len({legs_of(scanner, int(c)) for c in ids}) == scanner.n_cycles
        assert scanner.n_cycles == len(brute_force(markets, tickers, max_cycle))
    # K5: 2 * C(5,3) triangles, 2 * 5 * 3 quadrilaterals, 4!/... = 24 pentagons.
    assert TriangularScanner(markets, max_cycle=3).n_cycles == 20
    assert TriangularScanner(markets, max_cycle=4).n_cycles == 20 + 30
    assert TriangularScanner(markets, max_cycle=5).n_cycles == 20 + 30 + 24


# -- hand-computed cases ---------------------------------------------------------------------
def triangle() -> tuple[list[ArbMarket], dict[str, Ticker]]:
    markets = [
        ArbMarket("BTC/USDT", "BTC", "USDT", FEE),
        ArbMarket("ETH/USDT", "ETH", "USDT", FEE),
        ArbMarket("ETH/BTC", "ETH", "BTC", FEE),
    ]
    tickers = {
        "BTC/USDT": Ticker("BTC/USDT", 60_000.0, 60_010.0, 2.0, 2.0),
        "ETH/USDT": Ticker("ETH/USDT", 3_000.0, 3_001.0, 40.0, 40.0),
        "ETH/BTC": Ticker("ETH/BTC", 0.0505, 0.0506, 40.0, 40.0),
    }
    return markets, tickers


def test_triangle_buys_at_the_ask_sells_at_the_bid_net_of_each_fee() -> None:
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers(tickers)
    best = scanner.best()
    assert best is not None
    # USDT -> ETH: buy ETH/USDT at the ask 3001; ETH -> BTC: sell ETH/BTC at the bid 0.0505;
    # BTC -> USDT: sell BTC/USDT at the bid 60000; each leg keeps 99.9%.
    keep = Decimal("0.999")
    expected = (keep / 3001) * (Decimal("0.0505") * keep) * (60000 * keep) - 1
    assert abs(best.profit_pct / 100 - expected) < Decimal("1e-12")
    assert round(best.profit_pct, 4) == Decimal("0.6637")  # 3030/3001 * 0.999^3 - 1
    rotated = scanner.opportunity(best.cycle_id, prefer_start=["USDT"])
    assert rotated.start_asset == "USDT"
    assert [(leg.symbol, leg.side, leg.price) for leg in rotated.legs] == [
        ("ETH/USDT", Side.BUY, Decimal("3001.0")),
        ("ETH/BTC", Side.SELL, Decimal("0.0505")),
        ("BTC/USDT", Side.SELL, Decimal("60000.0")),
    ]
    assert rotated.profit_pct == best.profit_pct
    assert all(leg.fee == FEE for leg in rotated.legs)


def test_reverse_direction_pays_both_spreads_and_loses() -> None:
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers(tickers)
    worst = scanner.top(2)[1]
    keep = Decimal("0.999")
    # USDT -> BTC at the ask 60010, BTC -> ETH at the ask 0.0506, ETH -> USDT at the bid 3000.
    expected = (keep / 60010) * (keep / Decimal("0.0506")) * (3000 * keep) - 1
    assert abs(worst.profit_pct / 100 - expected) < Decimal("1e-12")
    assert worst.profit_pct < 0
    sides = {leg.symbol: leg.side for leg in worst.legs}
    assert sides == {"BTC/USDT": Side.BUY, "ETH/BTC": Side.BUY, "ETH/USDT": Side.SELL}


def test_fee_override_replaces_every_market_fee() -> None:
    markets, tickers = triangle()
    free = TriangularScanner(markets, fee_override_pct=0)
    free.load_tickers(tickers)
    gross = Decimal(1) / 3001 * Decimal("0.0505") * 60000 - 1
    best = free.best()
    assert best is not None
    assert abs(best.profit_pct / 100 - gross) < Decimal("1e-12")
    costly = TriangularScanner(markets, fee_override_pct=Decimal("0.5"))
    costly.load_tickers(tickers)
    best = costly.best()
    assert best is not None
    assert best.profit_pct < 0
    assert best.legs[0].fee == Decimal("0.005")


def test_min_profit_filter_drops_losing_cycles() -> None:
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers(tickers)
    assert len(scanner.top(10)) == 2
    assert len(scanner.top(10, min_profit_pct=0.5)) == 1
    assert scanner.top(10, min_profit_pct=0.7) == []


def test_unquoted_market_removes_its_cycles_from_results() -> None:
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers(tickers)
    assert scanner.clear_ticker("ETH/BTC") == 2
    assert scanner.best() is None


def test_a_crossed_quote_is_no_quote_and_scores_no_phantom_cycle() -> None:
    """A bid above the ask (a stale side, a delta that left a book crossed) scored a cycle
    selling at that bid: USDT -> BTC -> ETH -> USDT at +2 % that no venue offers, which the
    executor would start."""
    markets, tickers = triangle()
    for load in (True, False):
        scanner = TriangularScanner(markets)
        crossed = Ticker("ETH/USDT", 3_100.0, 3_001.0, 40.0, 40.0)
        if load:
            scanner.load_tickers({**tickers, "ETH/USDT": crossed})
        else:
            scanner.load_tickers(tickers)
            scanner.update_ticker("ETH/USDT", crossed.bid, crossed.ask, 40.0, 40.0)
        assert scanner.best() is None
        assert len(scanner.top_ids(10)) == 0
        scanner.update_ticker("ETH/USDT", 3_000.0, 3_001.0, 40.0, 40.0)  # uncrossed again
        assert scanner.best() is not None


def test_a_locked_quote_bid_equal_to_ask_is_a_price_and_keeps_its_cycles() -> None:
    """A bid equal to the ask (a locked book, one tick wide markets) is a quote to trade at:
    only a bid above the ask is dropped as crossed."""
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers({**tickers, "ETH/USDT": Ticker("ETH/USDT", 3_001.0, 3_001.0, 40.0, 40.0)})
    best = scanner.best()
    assert best is not None
    keep = Decimal("0.999")
    expected = (keep / 3001) * (Decimal("0.0505") * keep) * (60000 * keep) - 1
    assert abs(best.profit_pct / 100 - expected) < Decimal("1e-12")
    assert len(scanner.top_ids(10)) == 2  # both ways round the triangle stay quoted


@pytest.mark.parametrize("bad", [2, 6])
def test_max_cycle_out_of_range_is_refused_with_the_range(bad: int) -> None:
    with pytest.raises(ConfigError, match=r"max_cycle=.* out of range \[3, 5\]"):
        TriangularScanner(triangle()[0], max_cycle=bad)


# -- incremental updates ---------------------------------------------------------------------
@pytest.mark.parametrize("max_cycle", [3, 4])
def test_incremental_updates_equal_a_full_rescan(max_cycle: int) -> None:
    universe = generate_universe(60, 200, 6, seed=3)
    scanner = TriangularScanner(universe.markets, max_cycle=max_cycle)
    scanner.load_tickers(universe.tickers)
    rng = np.random.default_rng(5)
    touched = 0
    for _ in range(500):
        t = universe.next_tick(rng)
        touched += scanner.update_ticker(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
    assert touched > 0
    incremental = scanner.scores().copy()
    scanner.rescan()
    assert np.array_equal(incremental, scanner.scores())


def test_updates_from_a_scanner_never_loaded_equal_a_full_rescan() -> None:
    universe = generate_universe(60, 200, 6, seed=3)
    scanner = TriangularScanner(universe.markets, max_cycle=4)  # triangles padded to four
    for t in universe.tickers.values():
        scanner.update_ticker(t.symbol, t.bid, t.ask, t.bid_size, t.ask_size)
    incremental = scanner.scores().copy()
    scanner.rescan()
    assert np.array_equal(incremental, scanner.scores())
    assert (incremental > -math.inf).all()


def test_best_ids_after_each_update_equal_a_full_ranking() -> None:
    universe = generate_universe(60, 200, 6, seed=3)
    scanner = TriangularScanner(universe.markets, max_cycle=4)
    scanner.load_tickers(universe.tickers)
    assert scanner.n_cycles > 1_000  # large enough that `top_ids` keeps candidates
    rng = np.random.default_rng(8)
    symbols = [m.symbol for m in universe.markets]
    for step in range(400):
        t = universe.tickers[symbols[int(rng.integers(len(symbols)))]]
        if step == 200:  # unquote every market of the best cycles: too few candidates remain
            for c in scanner.top_ids(100):
                for leg in scanner.opportunity(int(c)).legs:
                    scanner.clear_ticker(leg.symbol)
        elif step % 50 == 49:
            scanner.clear_ticker(t.symbol)
        else:
            # Moves of up to 3% lift cycles past the candidates' level and drop others below it.
            move = math.exp(float(rng.uniform(-0.03, 0.03)))
            scanner.update_ticker(t.symbol, t.bid * move, t.ask * move, t.bid_size, t.ask_size)
        ranked = scanner.top_ids(scanner.n_cycles)  # every quoted cycle, best first
        assert np.array_equal(scanner.top_ids(10), ranked[:10])
        above = scanner.top_ids(scanner.n_cycles, min_profit_pct=0.5)
        assert np.array_equal(scanner.top_ids(5, min_profit_pct=0.5), above[:5])
        assert np.array_equal(scanner.top_ids(100), ranked[:100])


def test_update_for_an_unknown_symbol_changes_nothing() -> None:
    markets, tickers = triangle()
    scanner = TriangularScanner(markets)
    scanner.load_tickers(tickers)
    before = scanner.scores().copy()
    assert scanner.update_ticker("DOGE/USDT", 0.1, 0.11) == 0
    assert np.array_equal(before, scanner.scores())


async def test_threaded_rescan_keeps_updates_made_while_it_runs() -> None:
    universe = generate_universe(60, 200, 6, seed=4)
    scanner = TriangularScanner(universe.markets, max_cycle=4)
    scanner.load_tickers(universe.tickers)
    task = asyncio.create_task(scanner.rescan_async())
    await asyncio.sleep(0)  # let the task copy the weights and hand off to its thread
    t = universe.tickers[universe.markets[0].symbol]
    scanner.update_ticker(t.symbol, t.bid * 1.02, t.ask * 1.02, t.bid_size, t.ask_size)
    await task
    after = scanner.scores().copy()
    scanner.rescan()
    assert np.array_equal(after, scanner.scores())


# -- generated universe ----------------------------------------------------------------------
def test_generated_venue_is_deterministic_and_exchange_shaped() -> None:
    a = generate_universe(seed=9)
    b = generate_universe(seed=9)
    assert a.to_ccxt_markets() == b.to_ccxt_markets()
    assert a.to_ccxt_tickers() == b.to_ccxt_tickers()
    assert len(a.markets) == 1_500
    assert len(a.usd) == 400
    quotes = {m.quote for m in a.markets}
    assert len(quotes) == 10
    for t in a.tickers.values():
        assert 0 < t.bid < t.ask
        assert (t.ask - t.bid) / t.ask < 0.004  # spreads of 1-30 bps plus tick rounding
    scanner = TriangularScanner(a.markets)
    scanner.load_tickers(a.tickers)
    profitable = int((scanner.scores() > 0).sum())
    assert 0 < profitable < scanner.n_cycles // 20  # a few, not most
