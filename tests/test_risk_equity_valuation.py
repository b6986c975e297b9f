"""Zero equity, refused credentials and a valuation asset that is not USD."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from test_risk_support import T0, D, Rig, buy
from tradeguard.config import Config
from tradeguard.model import Instrument, Order, TradingState
from tradeguard.model.events import EventKind
from tradeguard.portfolio import Portfolio
from tradeguard.portfolio.equity import EquityTracker, drawdown_pct
from tradeguard.risk import MemoryStateStore, RiskConfig, RiskEngine
from tradeguard.risk.rules import ENTRY_RULES, ORDER_RULES, PRICING_RULES


def test_zero_equity_halts_with_a_reason_and_no_daily_loss() -> None:
    rig = Rig(cash=D(0))
    rig.engine.observe_equity(T0, D(0))
    eng = rig.engine
    assert eng.state is TradingState.HALTED
    assert eng.state_by == "breaker:no_equity"
    assert "no equity" in eng.state_reason and "tradeguard resume" in eng.state_reason
    assert eng.daily_loss_halt_day is None
    tripped = [e.data["breaker"] for e in rig.kinds(EventKind.BREAKER_TRIPPED)]
    assert tripped == ["no_equity"]
    snap = eng.snapshot()  # figures over zero equity are reported, not divided
    assert snap["breakers"]["drawdown"]["used"] is None
    assert snap["limits"]["daily_loss"]["used_pct"] is None


def test_a_zero_equity_halt_is_resumed_the_same_day_and_the_day_restarts_from_real_equity() -> None:
    rig = Rig(cash=D(0))
    rig.engine.observe_equity(T0, D(0))
    eng = rig.restart()
    assert eng.state is TradingState.HALTED
    eng.resume("alice", "funded the paper account")
    assert eng.state is TradingState.ACTIVE
    rig.book.cash = D(10_000)
    eng.observe_equity(T0 + 1, D(10_000))
    assert eng.state is TradingState.ACTIVE and eng.day_start_equity == D(10_000)
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5")).approved


def test_zero_equity_denies_entries_with_a_clear_code() -> None:
    rig = Rig(cash=D(0), min_account_balance_usd=D(0))
    d = rig.check(buy("0.5"))
    assert (d.approved, d.code) == (False, "NO_EQUITY")
    assert "equity is 0.00 USD" in d.reason


def test_refused_credentials_open_the_venue_breaker_not_a_loss() -> None:
    rig = Rig()
    rig.engine.observe_equity(T0, D(10_000))
    rig.engine.observe_venue_refusal("paper", T0, "INSUFFICIENT_FUNDS", "not enough USDT")
    assert rig.check(buy("0.5")).approved  # an order's own refusal says nothing of the venue
    rig.engine.observe_venue_refusal("paper", T0, "AUTHENTICATION", "invalid api key")
    d = rig.check(buy("0.5"))
    assert d.code == "VENUE_BREAKER_OPEN" and "invalid api key" in d.reason
    assert rig.engine.state is TradingState.ACTIVE and rig.engine.daily_loss_halt_day is None
    assert rig.restart().venue_breakers["paper"].state == "open"


class BtcBook(Portfolio):
    """The real ledger valued in BTC, with the open-orders read the engine needs."""

    def open_orders(self) -> list[Order]:
        return []


def btc_rig(**config: object) -> tuple[Rig, BtcBook]:
    """An engine valuing in BTC, with an ETH/BTC market and 1 BTC held."""
    rig = Rig(**config)  # type: ignore[arg-type]
    rig.engine = RiskEngine(rig.config, rig.clock, MemoryStateStore(), rig.events.append, "BTC")
    rig.market.set("ETH/BTC", D("0.05"), T0)
    rig.market.instruments[("paper", "ETH/BTC")] = Instrument(
        "paper", "ETH/BTC", "ETH", "BTC", D("0.00001"), D("0.001"), D("0.001"), D("0.0001")
    )
    portfolio = BtcBook("BTC")
    portfolio.book("paper").get("BTC").free = D(1)
    portfolio.mark("ETH/BTC", D("0.05"))
    return rig, portfolio


def eth_buy() -> object:
    return buy("0.1", "0.05", symbol="ETH/BTC")


def test_btc_valuation_without_a_usd_price_names_the_missing_price_and_the_key() -> None:
    rig, portfolio = btc_rig()
    d = rig.engine.check(eth_buy(), portfolio, rig.market)  # type: ignore[arg-type]
    assert d.code == "NO_USD_PRICE"
    assert "limit in USD" in d.reason and "no USD price of BTC" in d.reason
    assert "risk.valuation_asset_usd" in d.reason


def test_btc_valuation_converts_through_the_market_or_the_configured_price() -> None:
    rig, portfolio = btc_rig()
    portfolio.mark("BTC/USDT", D(40_000))
    small = buy("0.04", "0.05", symbol="ETH/BTC")
    d = rig.engine.check(small, portfolio, rig.market)
    assert d.approved and d.value == D(80)  # 0.04 ETH × 0.05 BTC × 40,000 USD
    rig, portfolio = btc_rig(valuation_asset_usd=D(40_000))
    rig.at(T0 + 1000)
    big = buy("1", "0.05", symbol="ETH/BTC")  # 0.05 BTC = 2,000 USD
    d = rig.engine.check(big, portfolio, rig.market)
    assert d.code == "MAX_ORDER_NOTIONAL" and d.value == D(2000)


def test_btc_valuation_counts_losses_in_btc_and_usd_limits_at_the_btc_price(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig, _ = btc_rig(valuation_asset_usd=D(40_000), daily_loss_limit_usd=D(2000))
    eng = rig.engine
    eng.observe_equity(T0, D(1))
    eng.observe_equity(T0 + 1, D("0.9501"))  # 0.0499 BTC lost, under 2,000 USD = 0.05 BTC
    assert eng.state is TradingState.ACTIVE
    eng.observe_equity(T0 + 2, D("0.95"))
    assert eng.state_by == "breaker:daily_loss"
    assert eng.state_reason == (
        "daily loss 0.05 BTC reached the limit 0.05 BTC (counted from the day's opening equity "
        "1.00 BTC, price moves of holdings included)"
    )
    # said on the console as it happens, not only by `tradeguard status` afterwards
    halts = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert [r.getMessage() for r in halts] == [f"trading HALTED: {eng.state_reason}"]


def test_btc_quoted_feather_candles_config_builds_an_engine_valued_in_btc(tmp_path: Path) -> None:
    from tradeguard.node import TradingNode

    text = """
        [node]
        valuation_asset = "BTC"
        [[data]]
        path = "candles/ETH_BTC-5m.feather"
        symbol = "ETH/BTC"
        venue = "paper"
        [[venues]]
        name = "paper"
        kind = "paper"
        balances = { BTC = "1" }
        [risk]
        valuation_asset_usd = "11000"
        """
    data = tomllib.loads(text)
    data["node"]["database_url"] = f"sqlite:///{tmp_path / 'tg.db'}"
    node = TradingNode(Config.model_validate(data))
    try:
        eng = node.risk
        assert eng.valuation.unit == "BTC" and eng.valuation.usd_per_unit == Decimal(11_000)
    finally:
        node.close()


def test_every_rule_names_a_config_key_and_its_default() -> None:
    fields = RiskConfig.model_fields
    for rule in ORDER_RULES + PRICING_RULES + ENTRY_RULES:
        assert rule.code.isupper()
        if rule.key in fields:
            assert rule.default() == fields[rule.key].default
        else:
            assert rule.default() is None


@pytest.mark.parametrize(
    ("series", "peak", "max_dd"),
    [
        ([D(100), D(90), D(95), D(80)], D(100), D(20)),
        ([D(0), D(0)], D(0), D(0)),
        ([D(0), D(50), D(25)], D(50), D(50)),
    ],
)
def test_equity_tracker_peak_and_max_drawdown(
    series: list[Decimal], peak: Decimal, max_dd: Decimal
) -> None:
    t = EquityTracker()
    for x in series:
        t.observe(x)
    assert (t.peak, t.max_drawdown_pct) == (peak, max_dd)
    assert drawdown_pct(D(0), D(0)) is None


def test_btc_valuation_values_each_venue_at_its_own_usd_rate_for_percent_caps() -> None:
    # 50,000 USDT on venue a, whose BTC is 50,000; 1 BTC on venue b, whose BTC is 40,000:
    # 90,000 USD, not 2 BTC at the latest BTC price of either venue (80,000 or 100,000)
    rig = Rig(max_order_notional_pct=D(10), max_order_notional_usd=D(10_000))
    rig.engine = RiskEngine(rig.config, rig.clock, MemoryStateStore(), rig.events.append, "BTC")
    rig.market.instruments[("paper", "BTC/USDT")] = Instrument(
        "paper", "BTC/USDT", "BTC", "USDT", D("0.01"), D("0.0001"), D("0.0001"), D(1)
    )
    portfolio = BtcBook("BTC")
    portfolio.book("a").get("USDT").free = D(50_000)
    portfolio.book("paper").get("BTC").free = D(1)
    portfolio.mark("BTC/USDT", D(50_000), "a")
    portfolio.mark("BTC/USDT", D(40_000), "paper")  # the latest of any venue
    rig.market.set("BTC/USDT", D(40_000), T0)
    # 10% of 90,000 USD is 9,000: 0.2249 BTC at 40,000 (8,996) passes, 0.2251 (9,004) not
    ok = rig.engine.check(buy("0.2249", "40000"), portfolio, rig.market)
    assert ok.approved, ok.reason
    rig.at(T0 + 1000)
    d = rig.engine.check(buy("0.2251", "40000"), portfolio, rig.market)
    assert d.code == "MAX_ORDER_NOTIONAL_PCT" and "9000" in d.reason.replace(",", ""), d.reason
    shown = rig.engine.snapshot()["usd_valuation"]
    assert shown["equity_usd"] == "90000"
    assert shown["rates"]["a:USDT"] == {"usd": "1", "path": "stablecoin"}
    assert shown["rates"]["paper:BTC"] == {"usd": "40000", "path": "BTC/USD on paper"}


def test_an_asset_no_rate_path_values_is_refused_by_name() -> None:
    rig, portfolio = btc_rig(valuation_asset_usd=D(40_000))
    rig.market.instruments[("paper", "XYZ/BTC")] = Instrument(
        "paper", "XYZ/BTC", "XYZ", "BTC", D("0.00001"), D("0.001"), D("0.001"), D("0.0001")
    )
    rig.market.set("XYZ/BTC", D("0.05"), T0)
    # XYZ/BTC quotes exist in the market data but the portfolio has no mark valuing XYZ
    d = rig.engine.check(buy("0.1", "0.05", symbol="XYZ/BTC"), portfolio, rig.market)
    assert (d.approved, d.code) == (False, "UNVALUED_ASSET"), d.reason
    assert "XYZ on paper cannot be valued in USD" in d.reason
    rig.at(T0 + 1000)  # ETH, which an ETH/BTC mark values, still trades
    small = buy("0.04", "0.05", symbol="ETH/BTC")
    assert rig.engine.check(small, portfolio, rig.market).approved
