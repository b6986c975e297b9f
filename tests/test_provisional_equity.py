"""In the first seconds after start a venue's holdings have no price of its own: another
venue's stands in. That equity is provisional: the loss and drawdown breakers and the
percent-of-equity limits wait for the venue's own quotes (at most `risk.stale_data_s`), so a
halt never trips on a foreign price, and a real loss is still caught once the quotes arrive."""

from __future__ import annotations

from decimal import Decimal

from test_risk_equity_valuation import BtcBook
from test_risk_support import T0, D, Rig, buy, sell
from tradeguard.model import TradingState
from tradeguard.model.order import ARB_UNWIND_TAG
from tradeguard.risk import RiskEngine


def _two_venues() -> BtcBook:
    """USDT valued as the default; venue a quoting BTC at 50,000, venue b holding 1 BTC."""
    p = BtcBook("USDT")
    p.book("a").get("USDT").free = D(50_000)
    p.book("b").get("BTC").free = D(1)
    p.mark("BTC/USDT", D(50_000), "a")
    return p


def _held(rig: Rig, peak: Decimal) -> RiskEngine:
    """The rig's engine after a `peak` equity with every venue's own prices, then restarted:
    venue b's own quotes not yet in, its equity is provisional."""
    eng = rig.engine
    eng.observe_equity(T0, peak)
    eng.provisional = _two_venues().provisional()
    return eng


def test_a_venue_without_quotes_of_its_own_makes_equity_provisional_naming_it() -> None:
    p = _two_venues()
    why = p.provisional()
    assert why is not None and "b (BTC)" in why and "another venue's price" in why
    assert p.equity() == D(100_000)  # b's BTC at a's price, for now
    p.mark("BTC/USDT", D(30_000), "b")  # b's own quote: b's BTC is worth 30,000
    assert p.provisional() is None
    assert p.equity() == D(80_000)


def test_a_halt_never_trips_on_a_foreign_price_and_a_real_loss_is_still_caught() -> None:
    rig = Rig(max_drawdown_pct=D(10))
    eng = rig.engine
    p = _two_venues()
    eng.observe_equity(T0, D(100_000))  # the peak, every venue's own prices known
    # a restart: b's own quotes not yet in; a foreign price says equity fell 20%
    eng.provisional = p.provisional()
    eng.observe_equity(T0 + 1000, D(80_000))
    assert eng.state is TradingState.ACTIVE
    assert eng.equity_tracker.peak == D(100_000)  # nor is a foreign figure taken as a peak
    rig.at(T0 + 1000)
    d = rig.check(buy("0.5"))
    assert d.code == "PROVISIONAL_VALUATION" and "b (BTC)" in d.reason, d.reason
    # b's own quotes arrive and confirm the loss: it halts at once
    eng.provisional = None
    eng.observe_equity(T0 + 2000, D(80_000))
    assert eng.state is TradingState.HALTED and eng.state_by == "breaker:drawdown"


def test_provisional_equity_is_held_no_longer_than_stale_data_s() -> None:
    rig = Rig(max_drawdown_pct=D(10), stale_data_s=30)
    eng = _held(rig, D(100_000))
    rig.at(T0 + 1000)
    eng.observe_equity(T0 + 1000, D(80_000))
    rig.at(T0 + 30_000)
    eng.observe_equity(T0 + 30_000, D(80_000))
    assert eng.state is TradingState.ACTIVE
    # b never quotes: past the bound the borrowed price is acted on, not a loss missed forever
    rig.at(T0 + 31_000)
    eng.observe_equity(T0 + 31_000, D(80_000))
    assert eng.state is TradingState.HALTED and eng.state_by == "breaker:drawdown"


def test_usd_rates_fall_back_to_any_venue_where_the_own_venue_has_no_path() -> None:
    from tradeguard.portfolio.usd_equity import usd_equity, usd_rate

    p = _two_venues()
    p.mark("ETH/USDT", D(2000), "b")
    p.book("a").get("ETH").free = D(2)
    # a quotes BTC only: its ETH is valued at b's ETH/USDT, and said so
    assert usd_rate(p, "a", "ETH", None) == (D(2000), "ETH/USD (latest of any venue)")
    assert usd_rate(p, "a", "XYZ", None) is None
    p.book("a").get("XYZ").free = D(5)
    usd = usd_equity(p)
    assert usd.unvalued == {"a:XYZ"} and usd.rates["a:ETH"][1].endswith("any venue)")


def test_the_hold_is_timed_by_the_node_clock_not_by_the_quotes_timestamps() -> None:
    # A venue's quote carries the exchange's timestamp: an old one (a quiet market's ticker)
    # or one from a clock running ahead must neither end the hold at once nor stretch it.
    rig = Rig(max_drawdown_pct=D(10), stale_data_s=30)
    eng = _held(rig, D(100_000))
    rig.at(T0 + 1000)
    eng.observe_equity(T0 - 600_000, D(80_000))  # a ten-minute-old quote starts the hold
    eng.observe_equity(T0 + 1000, D(80_000))
    assert eng.state is TradingState.ACTIVE  # held: one second of the node's time has passed
    assert rig.check(buy("0.5")).code == "PROVISIONAL_VALUATION"
    rig.at(T0 + 32_000)  # past the bound in the node's time, whatever the quotes say
    assert rig.check(buy("0.5")).code != "PROVISIONAL_VALUATION"
    eng.observe_equity(T0 + 32_000, D(80_000))
    assert eng.state is TradingState.HALTED and eng.state_by == "breaker:drawdown"


def test_a_quote_ahead_of_the_node_clock_does_not_stretch_the_hold() -> None:
    rig = Rig(max_drawdown_pct=D(10), stale_data_s=30)
    eng = _held(rig, D(100_000))
    eng.observe_equity(T0 + 3_600_000, D(80_000))  # the first held figure, an hour ahead
    rig.at(T0 + 31_000)
    eng.observe_equity(T0 + 31_000, D(80_000))
    assert eng.state is TradingState.HALTED and eng.state_by == "breaker:drawdown"


def test_an_arbitrage_unwind_is_not_held_for_the_venues_own_quotes() -> None:
    # A start after a crash sells back what a part-hedged pair left unhedged while another
    # venue's holdings are still valued at a borrowed price. The hold exists so that no new
    # risk is sized on that figure; the unwind sheds risk, as it passes REDUCING and the
    # cooldowns, so it is sent now rather than left held for up to stale_data_s.
    rig = Rig(max_drawdown_pct=D(10), stale_data_s=30)
    eng = _held(rig, D(10_000))
    rig.at(T0 + 1000)
    eng.observe_equity(T0 + 1000, D(10_000))
    eng.cycle_holdings.hold("s1", "paper", "BTC", D("0.5"))  # the pair's leg left unhedged
    assert rig.check(sell("0.5")).code == "PROVISIONAL_VALUATION"  # an entry still waits
    d = rig.check(sell("0.5", tag=ARB_UNWIND_TAG))
    assert d.approved, (d.code, d.reason)


def test_an_arbitrage_unwind_is_never_refused_by_the_loss_limits_it_protects() -> None:
    # A lone leg valued at a borrowed price makes today's loss reach the daily (and weekly)
    # limit before any of it is realised: new entries stop, the unwind that sheds the leg goes.
    rig = Rig(
        cash=D(9_700), daily_loss_limit_usd=D(200), weekly_loss_limit_usd=D(250), stale_data_s=30
    )
    eng = _held(rig, D(10_000))
    rig.at(T0 + 1000)
    eng.observe_equity(T0 + 1000, D(9_700))
    assert eng.state is TradingState.ACTIVE  # held: no halt on a provisional figure
    eng.cycle_holdings.hold("s1", "paper", "BTC", D("0.5"))  # the lone leg
    assert rig.check(sell("0.5")).code == "PROVISIONAL_VALUATION"
    d = rig.check(sell("0.5", tag=ARB_UNWIND_TAG))
    assert d.approved, (d.code, d.reason)
    rig.at(T0 + 31_000)  # held no longer: the limits act on the figure, entries stop there
    assert rig.check(buy("0.5")).code == "DAILY_LOSS_LIMIT"
    d = rig.check(sell("0.5", tag=ARB_UNWIND_TAG))
    assert d.approved, (d.code, d.reason)
