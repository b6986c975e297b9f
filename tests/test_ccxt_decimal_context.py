"""ccxt's precision helpers change the decimal context of whoever calls them (Underflow becomes
a trap, rounding becomes half-up). The node's own arithmetic runs on the same event loop, so a
venue request must leave the caller's context as it found it: paper and live round alike."""

from __future__ import annotations

import decimal

from test_ccxt_support import SYMBOL, Stack
from tradeguard.model import OrderStatus, Side
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually


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


async def test_a_fill_on_the_user_stream_leaves_the_nodes_decimal_context_alone(
    ex: SandboxExchange, stack: Stack
) -> None:
    # ccxt.pro adds up an order's fees with `currency_to_precision` while it handles a second
    # trade of that order: on its websocket's own tasks, which asyncio gives a copy of the
    # context variables, but the copy holds the same decimal context object as the node's.
    before = decimal.getcontext()
    rounding, underflow = before.rounding, before.traps[decimal.Underflow]
    try:
        ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
        order = (await stack.submit(Side.BUY, "0.15", "49500")).order
        ex.trade_through(SYMBOL, "SELL", "49500", "0.05")
        await eventually(lambda: order.status is OrderStatus.PARTIALLY_FILLED)
        ex.trade_through(SYMBOL, "SELL", "49500", "0.1")
        await eventually(lambda: order.status is OrderStatus.FILLED)
        now = decimal.getcontext()
        assert (now.rounding, now.traps[decimal.Underflow]) == (rounding, underflow)
        assert decimal.Decimal("2.5").quantize(decimal.Decimal(1)) == 2  # half-even
    finally:  # the context object is the whole test process's: leave it as found
        before.rounding, before.traps[decimal.Underflow] = rounding, underflow
