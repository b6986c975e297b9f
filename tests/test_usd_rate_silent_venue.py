"""A venue whose stream of its quote asset's USD market went silent: an order there is valued
in USD at a fresh price (another venue's), never at the venue's own price of long ago."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.state import MarketState
from tradeguard.model import Instrument, OrderIntent, OrderType, Side
from tradeguard.model.balance import Balance
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk import MemoryStateStore, RiskConfig, RiskEngine
from tradeguard.risk.exposure import ExposureMeter

D = Decimal
T0 = 1_700_000_000_000
BTC, ETH_BTC = "BTC/USDT", "ETH/BTC"


class _Ledger(Portfolio):
    def open_orders(self) -> list[Order]:
        return []


def _quote(market: MarketState, ledger: Portfolio, venue: str, symbol: str, mid: str,
           ts: int) -> None:  # fmt: skip
    half = D(mid) / 10_000
    market.on_quote(Quote(symbol, ts, D(mid) - half, D(10), D(mid) + half, D(10), venue=venue))
    ledger.mark(symbol, D(mid), venue)


def _setup(valuation: str) -> tuple[RiskEngine, _Ledger, MarketState, SimulatedClock]:
    clock = SimulatedClock(T0)
    config = RiskConfig(max_order_notional_usd=D(500), stale_data_s=10, price_band_pct=D(10))
    engine = RiskEngine(config, clock, MemoryStateStore(), lambda e: None, valuation)
    ledger, market = _Ledger(valuation_asset=valuation), MarketState()
    ledger.set_balances("south", [Balance("south", "USDT", D(100_000))])
    market.add_instrument(
        Instrument("south", ETH_BTC, "ETH", "BTC", D("0.00001"), D("0.001"), D("0.001"))
    )
    # south's BTC/USDT stream spoke last at 40,000, then went silent for a minute, while
    # BTC rose to 60,000 (north streams it) and south's ETH/BTC stream goes on
    _quote(market, ledger, "south", BTC, "40000", T0)
    clock.advance_to(T0 + 60_000)
    _quote(market, ledger, "north", BTC, "60000", T0 + 59_000)
    _quote(market, ledger, "south", ETH_BTC, "0.05", T0 + 59_000)
    return engine, ledger, market, clock


def _buy_eth(amount: str) -> OrderIntent:
    return OrderIntent("desk", "south", ETH_BTC, Side.BUY, D(amount), OrderType.MARKET)


def test_a_silent_usd_market_on_the_orders_venue_does_not_value_the_order():
    engine, ledger, market, _ = _setup("USDT")
    # 0.2 ETH at 0.05 BTC is 0.01 BTC: 600 USD at BTC's fresh price, 400 at south's stale one
    decision = engine.check(_buy_eth("0.2"), ledger, market)
    assert (decision.approved, decision.code) == (False, "MAX_ORDER_NOTIONAL"), decision.reason
    assert engine.check(_buy_eth("0.15"), ledger, market).approved  # 450 USD


def test_a_btc_valuation_asset_is_worth_its_fresh_usd_price_too():
    engine, ledger, market, _ = _setup("BTC")
    decision = engine.check(_buy_eth("0.2"), ledger, market)
    assert (decision.approved, decision.code) == (False, "MAX_ORDER_NOTIONAL"), decision.reason


def test_a_fresh_usd_market_on_the_orders_venue_is_its_own_price():
    engine, ledger, market, _ = _setup("USDT")
    _quote(market, ledger, "south", BTC, "40000", T0 + 59_500)  # south speaks again
    _quote(market, ledger, "north", BTC, "60000", T0 + 59_800)  # north's is the latest
    assert engine.check(_buy_eth("0.2"), ledger, market).approved  # 400 USD at south's BTC


def test_the_heat_of_a_btc_quoted_position_reads_a_fresh_btc_price():
    _, ledger, market, clock = _setup("USDT")
    ledger.position("south", ETH_BTC, "desk").apply(Side.BUY, D("0.05"), D(1), D(0), T0)
    meter = ExposureMeter(D("0.1"), 10_000)  # stale_data_s = 10
    # 1 ETH at 0.05 BTC, 10 % assumed to the stop: 0.005 BTC, at BTC's fresh 60,000
    assert meter.measure(ledger, market, clock.now_ms(), D(1)).heat_usd == D(300)
    _quote(market, ledger, "south", BTC, "40000", T0 + 59_500)  # south speaks again
    _quote(market, ledger, "north", BTC, "60000", T0 + 59_800)
    assert meter.measure(ledger, market, clock.now_ms(), D(1)).heat_usd == D(200)  # its own


def test_positions_on_two_venues_each_read_their_own_venues_btc_price():
    _, ledger, market, clock = _setup("USDT")
    _quote(market, ledger, "south", BTC, "40000", T0 + 59_500)  # both streams fresh, apart
    _quote(market, ledger, "north", BTC, "60000", T0 + 59_800)
    _quote(market, ledger, "north", ETH_BTC, "0.05", T0 + 59_800)
    for venue in ("south", "north"):
        ledger.position(venue, ETH_BTC, "desk").apply(Side.BUY, D("0.05"), D(1), D(0), T0)
    ledger.position("south", "LTC/BTC", "desk").apply(Side.BUY, D("0.05"), D(1), D(0), T0)
    ledger.mark("LTC/BTC", D("0.05"), "south")
    meter = ExposureMeter(D("0.1"), 10_000)
    # 0.005 BTC of risk each: two on south at 40,000 (200 + 200), one on north at 60,000
    assert meter.measure(ledger, market, clock.now_ms(), D(1)).heat_usd == D(700)
