"""Max executable size of a cycle: book depth, amount steps chained leg to leg, minimums."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.strategies.triangular import ArbMarket, Opportunity, Ticker, TriangularScanner
from tradeguard.strategies.triangular.markets import Depth
from tradeguard.strategies.triangular.universe import generate_universe

FEE = Decimal("0.001")
KEEP = Decimal("0.999")


def scanner_for(
    eth_btc: ArbMarket | None = None, tickers: dict[str, Ticker] | None = None
) -> TriangularScanner:
    markets = [
        ArbMarket("BTC/USDT", "BTC", "USDT", FEE, Decimal("0.00001"), Decimal("0.01")),
        ArbMarket("ETH/USDT", "ETH", "USDT", FEE, Decimal("0.0001"), Decimal("0.01")),
        eth_btc or ArbMarket("ETH/BTC", "ETH", "BTC", FEE, Decimal("0.0001"), Decimal("0.00001")),
    ]
    scanner = TriangularScanner(markets)
    scanner.load_tickers(
        tickers
        or {
            "BTC/USDT": Ticker("BTC/USDT", 60_000.0, 60_010.0, 5.0, 5.0),
            "ETH/USDT": Ticker("ETH/USDT", 3_000.0, 3_001.0, 100.0, 100.0),
            "ETH/BTC": Ticker("ETH/BTC", 0.0505, 0.0506, 0.5, 0.5),
        }
    )
    return scanner


def best_from_usdt(scanner: TriangularScanner, depth: Depth | None = None) -> Opportunity:
    ids = scanner.top_ids(1)
    return scanner.opportunity(int(ids[0]), prefer_start=["USDT"], depth=depth)


def test_thin_middle_leg_caps_the_size_and_amounts_chain_after_rounding() -> None:
    o = best_from_usdt(scanner_for())
    assert o.path() == "USDT -> ETH -> BTC -> USDT"
    assert o.size_limited_by == "depth:ETH/BTC"
    buy_eth, sell_eth, sell_btc = o.leg_amounts
    # Receiving 0.5 ETH after the fee takes 0.5 / 0.999 ETH bought, rounded down to 0.0001.
    assert buy_eth.order_amount == Decimal("0.5005")
    assert buy_eth.amount_in == Decimal("0.5005") * 3001
    assert o.max_size == buy_eth.amount_in
    assert buy_eth.amount_out == Decimal("0.5005") * KEEP
    # Each leg sells what the previous one received, rounded down to its own step.
    assert sell_eth.order_amount == Decimal("0.4999")
    assert sell_eth.amount_out == Decimal("0.4999") * Decimal("0.0505") * KEEP
    assert sell_btc.order_amount == Decimal("0.02521")
    assert sell_btc.amount_out == Decimal("0.02521") * 60000 * KEEP
    assert sell_btc.limit_price == Decimal("60000.0")
    assert Decimal(0) < o.profit_at_size_pct < o.profit_pct


def test_depth_books_are_walked_to_their_worst_level() -> None:
    scanner = scanner_for()
    depth: Depth = {
        "BTC/USDT": ([(60_000, "0.01"), (59_990, "0.005")], [(60_010, 5)]),
        "ETH/BTC": ([(0.0505, 10)], [(0.0506, 10)]),
    }
    o = best_from_usdt(scanner, depth=depth)
    assert o.size_limited_by == "depth:BTC/USDT"
    last = o.leg_amounts[-1]
    assert last.order_amount <= Decimal("0.015")
    assert last.limit_price == Decimal(59_990)
    walked = Decimal("0.01") * 60_000 + (last.order_amount - Decimal("0.01")) * 59_990
    assert last.amount_out == walked * KEEP
    assert o.end_amount == last.amount_out


def test_min_notional_out_of_reach_gives_zero_size() -> None:
    eth_btc = ArbMarket(
        "ETH/BTC", "ETH", "BTC", FEE, Decimal("0.0001"), Decimal("0.00001"), Decimal("1")
    )
    o = best_from_usdt(scanner_for(eth_btc))
    assert o.max_size == 0
    assert o.leg_amounts == ()
    assert o.size_limited_by == "min_notional:ETH/BTC"
    assert o.profit_at_size_pct == 0
    assert o.profit_pct > 0  # still reported, just not executable


def test_min_amount_out_of_reach_gives_zero_size() -> None:
    eth_btc = ArbMarket(
        "ETH/BTC", "ETH", "BTC", FEE, Decimal("0.0001"), Decimal("0.00001"), min_amount=Decimal(1)
    )
    o = best_from_usdt(scanner_for(eth_btc))
    assert o.max_size == 0
    assert o.size_limited_by == "min_amount:ETH/BTC"


def test_missing_top_of_book_sizes_mean_no_executable_size() -> None:
    tickers = {
        "BTC/USDT": Ticker("BTC/USDT", 60_000.0, 60_010.0),
        "ETH/USDT": Ticker("ETH/USDT", 3_000.0, 3_001.0, 100.0, 100.0),
        "ETH/BTC": Ticker("ETH/BTC", 0.0505, 0.0506, 0.5, 0.5),
    }
    o = best_from_usdt(scanner_for(tickers=tickers))
    assert o.max_size == 0
    assert o.size_limited_by == "no_depth:BTC/USDT"


def test_deeper_generated_books_allow_at_least_the_top_of_book_size() -> None:
    universe = generate_universe(60, 200, 6, seed=8)
    scanner = TriangularScanner(universe.markets)
    scanner.load_tickers(universe.tickers)
    best = scanner.best()
    assert best is not None
    depth = {leg.symbol: universe.book(leg.symbol, levels=5) for leg in best.legs}
    deep = scanner.opportunity(best.cycle_id, depth=depth)
    assert deep.max_size >= best.max_size > 0
    assert len(deep.leg_amounts) == 3
    assert deep.size_limited_by.startswith("depth:")
