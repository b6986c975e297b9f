"""A chain's native coin (gas) and its wrapped token are one price, on every chain the node
names: equity, gas fees and the combined balances read the same pairs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.model import Fill, Side
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide
from tradeguard.portfolio import combined
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal
TWINS = [("ETH", "WETH"), ("BNB", "WBNB"), ("MATIC", "WMATIC"), ("AVAX", "WAVAX")]


@pytest.mark.parametrize(("native", "wrapped"), TWINS)
def test_gas_coin_held_and_paid_is_valued_at_its_wrapped_pool(native: str, wrapped: str) -> None:
    p = Portfolio("USDC")
    p.mark(f"{wrapped}/USDC", D(30))
    p.set_balances("dex", [Balance("dex", native, D(2)), Balance("dex", "USDC", D(10))])
    assert p.price_of(native) == D(30)
    assert p.equity() == D(70)  # the gas coin counts, not only the cash
    gas = Fill("dex", "TKA/USDC", "c", "v", "0xhash", Side.BUY, D(2), D(5), D("0.01"), native,
               LiquiditySide.TAKER, 1)  # fmt: skip
    assert p.valued_fee(gas).fee_quote == D("0.30")  # not booked as a free swap


@pytest.mark.parametrize(("native", "wrapped"), TWINS)
def test_wrapped_token_held_is_valued_at_its_native_market(native: str, wrapped: str) -> None:
    p = Portfolio("USDT")
    p.mark(f"{native}/USDT", D(30))
    p.set_balances("cex", [Balance("cex", wrapped, D(2))])
    assert p.price_of(wrapped) == D(30)
    assert p.equity() == D(60)


def test_the_combined_balances_read_the_same_twins_as_the_portfolio() -> None:
    assert {(n, w) for n, w in combined.WRAPPED.items()} == set(TWINS)


@pytest.mark.parametrize(("native", "wrapped"), TWINS)
def test_stored_balances_value_either_twin_at_the_others_price(native: str, wrapped: str) -> None:
    # a row written without a value (a transfer recorded while the node is stopped) takes its
    # twin's price, whichever of the two it is, as the live portfolio does
    for held, priced in ((native, wrapped), (wrapped, native)):
        rows = [
            {"venue": "cex", "asset": priced, "total": "2", "usd_value": "60"},
            {"venue": "cex", "asset": held, "total": "3", "usd_value": None},
        ]
        view = combined.combine(combined.holdings_from_rows(rows), "USDT")
        assert view.unpriced == [], (held, priced)
        assert view.total_value == D(150), (held, priced)
