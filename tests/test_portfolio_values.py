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


def test_native_eth_held_for_gas_is_valued_through_the_weth_market_everywhere() -> None:
    portfolio = Portfolio(valuation_asset="USDC")
    portfolio.mark("WETH/USDC", D("2000"))
    portfolio.set_balances("dex", [Balance("dex", "ETH", D("1.5")), Balance("dex", "USDC", D(10))])
    assert portfolio.price_of("ETH") == D("2000")
    assert portfolio.values_of(portfolio.book("dex").all())["ETH"] == D("3000")
    assert portfolio.equity() == D("3010")  # the figure status shows, as balances --combined
    assert portfolio.unpriced_assets() == []
    # and the other way round: a pool quoted in ETH values WETH
    other = Portfolio(valuation_asset="ETH")
    other.mark("UNI/WETH", D("0.004"))
    assert other.price_of("UNI") == D("0.004")


def test_a_pegged_asset_counts_at_its_peg_only_while_no_market_prices_it() -> None:
    pegs = {"USDT": Decimal(1), "PYUSD": Decimal("0.99")}
    p = Portfolio("BTC", pegs, valuation_usd=Decimal(20_000))
    p.set_balances("x", [Balance("x", "USDT", Decimal(10_000)), Balance("x", "BTC", Decimal(1))])
    # no USDT market: 10,000 USDT at 1 USD, 20,000 USD per BTC
    assert p.price_of("USDT") == Decimal("0.00005")
    assert p.equity() == Decimal("1.5") and p.unpriced_assets() == []
    assert p.price_of("USDT", pegs=False) is None  # what the reference prices still look for
    p.mark("BTC/USDT", Decimal(25_000))  # a market price wins over the peg and the fixed rate
    assert p.equity() == Decimal("1.4")
    # in a stablecoin valuation the peg is the value; an asset without one stays unpriced
    q = Portfolio("USDT", pegs)
    q.set_balances("x", [Balance("x", "PYUSD", Decimal(100)), Balance("x", "XYZ", Decimal(5))])
    assert q.equity() == Decimal("99.00") and q.unpriced_assets() == ["XYZ"]
    # with no peg (pegged_assets = {}) or no USD price of BTC, USDT counts nothing
    assert Portfolio("BTC", {}, Decimal(20_000)).price_of("USDT") is None
    assert Portfolio("BTC", pegs, None).price_of("USDT") is None


def test_pegged_cash_in_a_btc_valuation_takes_btc_from_the_market_not_the_fixed_rate() -> None:
    # A prediction venue's USD cash and a Polymarket USDC balance, valued in BTC, while the
    # exchange marks BTC/USDT at 25,000 and risk.valuation_asset_usd says a stale 20,000: every
    # stablecoin is one USD, so 10,000 USD is 0.4 BTC like 10,000 USDT, not 0.5 BTC.
    pegs = {"USD": Decimal(1), "USDC": Decimal(1), "USDT": Decimal(1)}
    p = Portfolio("BTC", pegs, valuation_usd=Decimal(20_000))
    p.set_balances("kalshi", [Balance("kalshi", "USD", Decimal(10_000))])
    p.set_balances("polymarket", [Balance("polymarket", "USDC", Decimal(10_000))])
    p.set_balances("x", [Balance("x", "USDT", Decimal(10_000))])
    p.mark("BTC/USDT", Decimal(25_000))
    assert p.price_of("USDT") == Decimal("0.00004")
    assert p.price_of("USD") == p.price_of("USDC") == Decimal("0.00004")
    assert p.equity() == Decimal("1.2")
    # BTC rises 60 %: the cash is worth less BTC, as the USDT is, whatever the fixed rate says
    p.mark("BTC/USDT", Decimal(40_000))
    assert p.equity() == Decimal("0.75")
    # without a fixed rate the cash still counts at the market's BTC price, not nothing
    q = Portfolio("BTC", pegs, valuation_usd=None)
    q.set_balances("kalshi", [Balance("kalshi", "USD", Decimal(10_000))])
    q.mark("BTC/USDT", Decimal(25_000))
    assert q.equity() == Decimal("0.4") and q.unpriced_assets() == []


def test_values_at_a_copy_taken_before_a_mark_was_dropped() -> None:
    # A dropped ticker reading takes its market out of the marks (`unmark`): the marks no
    # longer only gain symbols, so a copy of as many symbols may hold other ones. Before, the
    # price paths cached for the current marks were read on the copy: a KeyError.
    portfolio = Portfolio(valuation_asset="BTC")
    portfolio.mark("ADA/BTC", D("0.00001"), "binance")
    read = D("0.05")
    portfolio.mark_own("kraken", "ETH/BTC", read)
    copy = dict(portfolio.marks)
    portfolio.unmark("kraken", "ETH/BTC", read)  # no venue marks ETH/BTC any more
    portfolio.mark("XRP/BTC", D("0.0001"), "binance")  # as many symbols as the copy
    assert portfolio.price_of("XRP") == D("0.0001")  # its paths cached for these marks
    held = [Balance("paper", "XRP", D("10")), Balance("paper", "ETH", D("2"))]
    assert portfolio.values_at(held, copy) == {"ETH": D("0.10")}
    assert portfolio.values_of(held) == {"XRP": D("0.0010")}
