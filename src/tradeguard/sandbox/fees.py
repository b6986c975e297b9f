"""Fees paid in BNB, as Binance charges them when an account turns "use BNB to pay fees" on.

The fee is the usual rate on what the trade is worth in its quote asset, less the discount,
converted to BNB at the last BNB price in that quote (the BNB market's last trade, else its
mid). It is taken in BNB only while the account's free BNB covers it, and only where a BNB
market in that quote exists; otherwise it is taken in the asset received, as without the
option.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from tradeguard.sandbox.orders import Account

BNB = "BNB"
BNB_DISCOUNT = Decimal("0.25")  # Binance spot: 25 % off when fees are paid in BNB
_QUANTUM = Decimal("0.00000001")


def bnb_fee(
    account: Account,
    quote: str,
    value_in_quote: Decimal,
    rate: Decimal,
    bnb_price: Callable[[str], Decimal | None],
) -> Decimal | None:
    """The fee in BNB of a trade side worth `value_in_quote`, or None when it is not paid in
    BNB (the option is off, no BNB price in `quote`, or not enough free BNB)."""
    if not account.bnb_fees:
        return None
    price = Decimal(1) if quote == BNB else bnb_price(f"{BNB}{quote}")
    if price is None or price <= 0:
        return None
    fee = (value_in_quote * rate * (1 - BNB_DISCOUNT) / price).quantize(
        _QUANTUM, rounding=ROUND_HALF_UP
    )
    if fee <= 0 or account.bal(BNB).free < fee:
        return None
    return fee
