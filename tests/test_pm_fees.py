from decimal import Decimal

import pytest

from tradeguard.model.outcome import (
    Outcome,
    Resolution,
    kalshi_fee,
    outcome_instrument,
    parse_outcome_symbol,
    payout,
    polymarket_fee,
)

D = Decimal


def test_kalshi_fee_one_contract_at_50_cents_rounds_up_to_two_cents():
    # 0.07 * 1 * 0.5 * 0.5 = 0.0175 -> 0.02
    assert kalshi_fee(D(1), D("0.50")) == D("0.02")


def test_kalshi_fee_hundred_contracts_at_50_cents_is_one_seventy_five():
    assert kalshi_fee(D(100), D("0.50")) == D("1.75")


def test_kalshi_maker_fee_uses_the_maker_rate():
    # 0.0175 * 100 * 0.3 * 0.7 = 0.3675 -> 0.37
    assert kalshi_fee(D(100), D("0.30"), D("0.0175")) == D("0.37")


def test_polymarket_taker_fee_follows_rate_and_exponent():
    # 100 * 0.02 * (0.4 * 0.6) ** 1 = 0.48
    assert polymarket_fee(D(100), D("0.40"), D("0.02"), D(1)) == D("0.480000")
    # 100 * 0.25 * (0.25) ** 2 = 1.5625
    assert polymarket_fee(D(100), D("0.50"), D("0.25"), D(2)) == D("1.562500")
    assert polymarket_fee(D(100), D("0.50"), D(0), D(1)) == D(0)


def test_settlement_pays_yes_no_and_half_on_void():
    assert payout(Resolution.YES, Outcome.YES) == 1
    assert payout(Resolution.YES, Outcome.NO) == 0
    assert payout(Resolution.NO, Outcome.NO) == 1
    assert payout(Resolution.parse("50-50"), Outcome.YES) == D("0.5")
    with pytest.raises(ValueError, match="'maybe' is not one of yes, no, 50-50"):
        Resolution.parse("maybe")


def test_outcome_instrument_refuses_a_price_of_one_or_more():
    inst = outcome_instrument("kalshi", "T", Outcome.YES, "USD", D("0.01"), D(1), D(1), D("0.07"))
    assert inst.symbol == "T:YES/USD"
    assert parse_outcome_symbol(inst.symbol) == ("T", Outcome.YES, "USD")
    violation = inst.violation(D(1), D("1.00"))
    assert violation is not None and "must be below 1" in violation.message
    assert inst.violation(D(1), D("0.99")) is None
