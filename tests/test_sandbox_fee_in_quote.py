"""Fees in the quote asset (Kraken's markets) leave Binance markets as they were."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.orders import HOUSE_ACCOUNT
from tradeguard.sandbox.server import SandboxExchange

D = Decimal


def test_binance_house_is_issued_exactly_what_its_book_and_trades_cost() -> None:
    ex = SandboxExchange(SandboxConfig())
    ex.add_market("BTC/USDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    ex.set_book("BTC/USDT", bids=[("49999", "1"), ("49998", "2")], asks=[("50001", "1")])
    house = ex.engine.accounts[HOUSE_ACCOUNT]
    assert house.issued["USDT"] == D("49999") + D("99996")
    assert house.bal("USDT").free == 0
    ex.trade_through("BTC/USDT", "BUY", "50001", "0.5")
    assert house.issued["USDT"] == D("49999") + D("99996") + D("25000.5")
