"""Ambiguous outcomes through the real ccxt venue and the sandbox exchange on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

from test_ccxt_support import Stack
from tradeguard.model import OrderStatus, Side
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually


async def test_crossing_order_whose_answer_is_dropped_is_filled_and_booked_once(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.faults.update({"drop_response_after_execute": 1})

    result = await stack.submit(Side.BUY, "0.01", "50001")

    order = result.order
    assert result.status == "in_flight"
    await eventually(lambda: order.status is OrderStatus.FILLED)
    assert len(stack.sandbox_orders(order.client_order_id)) == 1  # never re-sent
    venue_trades = [t for t in ex.engine.trades["BTCUSDT"] if t.buyer_account == "acct-1"]
    fills = stack.storage.load_fills(client_order_id=order.client_order_id)
    assert sorted(f.trade_id for f in fills) == sorted(str(t.trade_id) for t in venue_trades)
    assert sum((f.amount for f in fills), Decimal(0)) == Decimal("0.01")


async def test_cancel_lost_to_5xx_makes_the_order_unknown_until_the_venue_answers(
    ex: SandboxExchange, stack: Stack
) -> None:
    placed = await stack.submit(Side.BUY, "0.01", "49000")
    order = placed.order
    assert order.status is OrderStatus.ACCEPTED
    ex.faults.update({"http_5xx_rate": 1.0})

    await stack.om.cancel(order.client_order_id)

    assert order.client_order_id in stack.om.unknown
    assert order.status is OrderStatus.ACCEPTED  # not guessed either way
    blocked = await stack.submit(Side.BUY, "0.01", "49000")
    assert blocked.code == "ORDER_STATE_UNKNOWN"

    ex.faults.reset()
    assert await stack.om.retry_unknown() == [order.client_order_id]
    assert order.status is OrderStatus.ACCEPTED  # the cancel never reached the venue
    await stack.om.cancel(order.client_order_id)
    assert order.status is OrderStatus.CANCELLED
    assert (await stack.submit(Side.BUY, "0.01", "49000")).status == "submitted"


async def test_self_trade_books_both_sides_once_even_when_replayed(
    ex: SandboxExchange, stack: Stack
) -> None:
    # The sandbox, like Binance with STP "NONE", matches an account against its own resting
    # order and reports one trade id twice: once as buyer, once as seller.
    sell = (await stack.submit(Side.SELL, "0.01", "50000.5")).order
    assert sell.status is OrderStatus.ACCEPTED
    buy = (await stack.submit(Side.BUY, "0.01", "50000.5")).order
    await eventually(lambda: buy.status is OrderStatus.FILLED and sell.status is OrderStatus.FILLED)
    fills = stack.storage.load_fills()
    assert sorted((f.side.value, f.client_order_id) for f in fills) == sorted(
        [("buy", buy.client_order_id), ("sell", sell.client_order_id)]
    )
    assert len({f.trade_id for f in fills}) == 1

    # Catching up from the venue's trade history books nothing twice.
    for fill in await stack.venue.fetch_fills("BTC/USDT", 0):
        stack.om.on_fill(fill)
    assert len(stack.storage.load_fills()) == 2
    assert stack.storage.fill_keys(stack.venue.name, "BTC/USDT") == {
        (fills[0].trade_id, "buy"),
        (fills[0].trade_id, "sell"),
    }
