"""What a venue says about one order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.enums import OrderStatus
from tradeguard.model.frozen import quick_init
from tradeguard.model.money import ZERO


@quick_init
@dataclass(frozen=True, slots=True)
class OrderReport:
    """The venue's view of an order, keyed by our client order id."""

    venue: str
    symbol: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    amount: Decimal = ZERO
    reason: str = ""
    ts: int = 0
    side: str = ""  # "buy" | "sell" when the venue says; needed to adopt external orders
    price: Decimal | None = None
