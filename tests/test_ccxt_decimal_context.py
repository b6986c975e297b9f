"""ccxt's precision helpers change the decimal context of whoever calls them (Underflow becomes
a trap, rounding becomes half-up). The node's own arithmetic runs on the same event loop, so a
venue request must leave the caller's context as it found it: paper and live round alike."""

from __future__ import annotations

import decimal

from test_ccxt_support import Stack
from tradeguard.model import Side


async def test_an_order_through_ccxt_leaves_the_callers_decimal_context_alone(
    stack: Stack,
) -> None:
    before = decimal.getcontext()
    rounding, underflow = before.rounding, before.traps[decimal.Underflow]
    result = await stack.submit(Side.BUY, "0.01", "49000")  # ccxt rounds amount and price
    assert result.status == "submitted"
    await stack.venue.fetch_open_orders()
    now = decimal.getcontext()
    assert (now.rounding, now.traps[decimal.Underflow]) == (rounding, underflow)
    assert decimal.Decimal(1) / 8 == decimal.Decimal("0.125")
    assert decimal.Decimal("2.5").quantize(decimal.Decimal(1)) == 2  # half-even, the default
