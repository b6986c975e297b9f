"""The ccxt venue against the sandbox exchange on 127.0.0.1, through the real order path."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from test_ccxt_support import (
    RIG_PAUSE_S,
    SYMBOL,
    VENUE,
    Stack,
    build_stack,
    make_venue,
    raises,
)
from tradeguard.model import (
    AmbiguousVenueError,
    DefinitiveVenueError,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually


def _order(cid: str, side: Side, amount: str, price: str | None = None) -> Order:
    return Order(
        cid,
        "t",
        VENUE,
        SYMBOL,
        side,
        OrderType.LIMIT if price else OrderType.MARKET,
        Decimal(amount),
        Decimal(price) if price else None,
    )


def _stored_balances(stack: Stack) -> bool:
    stack.om.flush()
    return bool(stack.storage.load_balances(VENUE))


async def test_connect_maps_spot_market_precision_limits_and_fees(stack: Stack) -> None:
    inst = stack.venue.instruments[SYMBOL]
    assert (inst.base, inst.quote) == ("BTC", "USDT")
    assert inst.price_tick == Decimal("0.01")
    assert inst.amount_step == Decimal("0.00001")
    assert inst.min_amount == Decimal("0.00001")
    assert inst.min_notional == Decimal(5)
    assert (inst.maker_fee, inst.taker_fee) == (Decimal("0.001"), Decimal("0.001"))


async def test_connect_warns_when_the_key_can_withdraw(
    ex: SandboxExchange, caplog: pytest.LogCaptureFixture
) -> None:
    ex.add_account("carol-key-0001", "carol-secret-0001", {"USDT": Decimal(10)}, can_withdraw=True)
    risky = make_venue(ex, "carol-key-0001", "carol-secret-0001", stream_user_data=False)
    safe = make_venue(ex, stream_user_data=False)
    with caplog.at_level(logging.WARNING):
        await risky.connect()
        await safe.connect()
    await risky.close()
    await safe.close()
    assert risky.withdrawal_warning is not None
    assert "WITHDRAWAL permission" in risky.withdrawal_warning
    assert safe.withdrawal_warning is None
    assert any("WITHDRAWAL permission" in r.getMessage() for r in caplog.records)


async def test_limit_order_is_acknowledged_listed_and_cancelled(stack: Stack) -> None:
    result = await stack.submit(Side.BUY, "0.01", "49000")
    assert result.status == "submitted"
    order = result.order
    assert order.status is OrderStatus.ACCEPTED
    [placed] = stack.sandbox_orders(order.client_order_id)
    assert placed.price == Decimal(49000)
    listed = await stack.venue.fetch_open_orders(SYMBOL)
    assert [r.client_order_id for r in listed] == [order.client_order_id]
    assert [r.client_order_id for r in await stack.venue.fetch_open_orders()] == [
        order.client_order_id
    ]
    report = await stack.om.cancel(order.client_order_id)
    assert report is not None and report.client_order_id == order.client_order_id
    assert order.status is OrderStatus.CANCELLED
    assert stack.storage.get_order(order.client_order_id).status is OrderStatus.CANCELLED
    assert await stack.venue.fetch_open_orders(SYMBOL) == []


async def test_a_market_order_goes_out_as_an_ioc_limit_at_its_protective_bound(
    stack: Stack,
) -> None:
    result = await stack.submit(Side.BUY, "0.01")
    assert result.status == "submitted"
    order = result.order
    # the bound: the mid 50,000 plus risk.market_slippage_cap_pct, rounded down to the tick
    assert order.type is OrderType.MARKET and order.price_bound is not None
    [placed] = stack.sandbox_orders(order.client_order_id)
    assert (placed.type, placed.time_in_force) == ("LIMIT", "IOC")
    assert placed.price == order.price_bound > Decimal(50001)
    assert placed.orig_qty == Decimal("0.01")
    assert placed.orig_quote_qty == 0  # never converted into a quote-amount order
    await eventually(lambda: order.status is OrderStatus.FILLED)
    [fill] = stack.storage.load_fills(client_order_id=order.client_order_id)
    assert fill.price == Decimal(50001)  # at the book, not at the bound


async def test_a_protected_market_order_stops_at_its_bound_and_the_rest_expires(
    stack: Stack,
) -> None:
    bound = Decimal(50000) * (1 + Decimal(stack.risk.config.market_slippage_cap_pct) / 100)
    # 0.01 BTC at the ask, the next 0.02 beyond the bound: a market order would take both
    stack.ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "0.01"),
                                                             (str(bound + 100), "5")])  # fmt: skip
    result = await stack.submit(Side.BUY, "0.03")
    order = result.order
    await eventually(lambda: order.status.is_terminal)
    assert order.status is OrderStatus.EXPIRED and order.filled == Decimal("0.01")
    assert [f.price for f in stack.storage.load_fills(client_order_id=order.client_order_id)] == [
        Decimal(50001)
    ]
    # the journal and the order event say why (was "": an exit that ended so read as nothing)
    said, _, bound = order.reason.rpartition(" ")
    assert said == "expired by the venue: filled 0.01 of 0.03; no more within the order's price"
    assert Decimal(bound) == order.price_bound, order.reason


async def test_market_orders_market_sends_the_exchange_s_market_order(
    ex: SandboxExchange, tmp_path: Path
) -> None:
    s = await build_stack(ex, tmp_path, market_orders="market")
    try:
        result = await s.submit(Side.BUY, "0.01")
        [placed] = s.sandbox_orders(result.order.client_order_id)
        assert placed.type == "MARKET" and placed.orig_qty == Decimal("0.01")
        assert placed.orig_quote_qty == 0
    finally:
        await s.close()


async def test_market_fill_is_applied_once_from_answer_and_stream(stack: Stack) -> None:
    usdt_before = stack.portfolio.book(VENUE).total("USDT")
    result = await stack.submit(Side.BUY, "0.01")
    cid = result.order.client_order_id
    await eventually(lambda: result.order.status is OrderStatus.FILLED)
    # The stream repeats what the order answer carried; its balance push comes after the
    # trade, so once balances are stored the repeated fill has been seen too.
    await eventually(lambda: _stored_balances(stack))
    [fill] = stack.storage.load_fills(client_order_id=cid)
    assert fill.price == Decimal(50001)
    assert fill.fee_asset == "BTC"
    book = stack.portfolio.book(VENUE)
    assert book.total("USDT") == usdt_before - Decimal("500.01")
    assert result.order.filled == Decimal("0.01")


async def test_partial_fills_on_the_user_stream_are_applied_once(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
    result = await stack.submit(Side.BUY, "0.15", "49500")
    order = result.order
    ex.trade_through(SYMBOL, "SELL", "49500", "0.05")
    await eventually(lambda: order.status is OrderStatus.PARTIALLY_FILLED)
    assert order.filled == Decimal("0.05")
    ex.trade_through(SYMBOL, "SELL", "49500", "0.1")
    await eventually(lambda: order.status is OrderStatus.FILLED)
    fills = stack.storage.load_fills(client_order_id=order.client_order_id)
    assert sorted(f.amount for f in fills) == [Decimal("0.05"), Decimal("0.1")]
    assert order.filled == Decimal("0.15")


async def test_sandbox_partial_fill_fault_fills_in_slices_once(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.set_book(SYMBOL, bids=[("49999", "1")], asks=[("50001", "5")])
    ex.faults.update({"partial_fills": 3})
    result = await stack.submit(Side.BUY, "0.15", "50001")
    order = result.order
    await eventually(lambda: order.status is OrderStatus.FILLED)
    fills = stack.storage.load_fills(client_order_id=order.client_order_id)
    assert sum(f.amount for f in fills) == Decimal("0.15")
    assert len({f.trade_id for f in fills}) == len(fills) >= 2
    # The sandbox (as Binance) takes a buyer's fee in BTC: the position holds what the
    # account gained, 0.15 less the fees, once per slice.
    assert {f.fee_asset for f in fills} == {"BTC"}
    net = Decimal("0.15") - sum(f.fee for f in fills)
    assert net < Decimal("0.15")
    assert stack.portfolio.position(VENUE, SYMBOL, "t").quantity == net


async def test_duplicated_stream_messages_apply_each_fill_once(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
    result = await stack.submit(Side.BUY, "0.2", "49500")
    order = result.order
    ex.faults.update({"duplicate_ws_messages": True})
    ex.trade_through(SYMBOL, "SELL", "49500", "0.05")
    ex.trade_through(SYMBOL, "SELL", "49500", "0.15")
    await eventually(lambda: order.status is OrderStatus.FILLED)
    fills = stack.storage.load_fills(client_order_id=order.client_order_id)
    assert len(fills) == 2
    assert order.filled == Decimal("0.2")
    # Each fill once, net of its fee taken in BTC (what the account gained).
    net = Decimal("0.2") - sum(f.fee for f in fills if f.fee_asset == "BTC")
    assert net < Decimal("0.2")
    assert stack.portfolio.position(VENUE, SYMBOL, "t").quantity == net


async def test_my_trades_map_back_to_our_client_order_id(ex: SandboxExchange, stack: Stack) -> None:
    result = await stack.submit(Side.BUY, "0.01")
    await eventually(lambda: result.order.status is OrderStatus.FILLED)
    # a fresh venue has never seen the order: it must learn the client id from the exchange
    fresh = make_venue(ex, stream_user_data=False)
    await fresh.load_instruments()
    try:
        fills = await fresh.fetch_fills(SYMBOL)
    finally:
        await fresh.close()
    assert [f.client_order_id for f in fills] == [result.order.client_order_id]
    assert fills[0].amount == Decimal("0.01")
    assert fills[0].side is Side.BUY


async def test_ambiguous_submit_is_resolved_by_query_not_by_resend(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.faults.update({"drop_response_after_execute": 1})
    result = await stack.submit(Side.BUY, "0.01", "49000")
    assert result.status == "in_flight"
    assert result.code == "AMBIGUOUS"
    order = result.order
    assert order.status is OrderStatus.ACCEPTED  # learned from the query by client order id
    assert len(stack.sandbox_orders(order.client_order_id)) == 1
    stack.om.flush()
    assert stack.storage.get_order(order.client_order_id).venue_order_id == order.venue_order_id
    assert not stack.om.unknown


async def test_fetch_order_of_an_unknown_client_id_is_none(stack: Stack) -> None:
    assert await stack.venue.fetch_order("never-sent-1", SYMBOL) is None


async def test_429_burst_backs_off_for_retry_after_then_succeeds(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.faults.update({"burst_429": 1})
    result = await stack.submit(Side.BUY, "0.01", "49000")
    assert result.status == "submitted"
    assert stack.venue.backoffs == [("submit", 1.0)]  # the sandbox's Retry-After: 1
    assert len(stack.sandbox_orders(result.order.client_order_id)) == 1


async def test_ws_disconnect_resubscribes_and_later_fills_arrive(
    ex: SandboxExchange, stack: Stack
) -> None:
    ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
    result = await stack.submit(Side.BUY, "0.1", "49500")
    order = result.order
    assert ex.disconnect_websockets() >= 1
    # Generous waits: a reconnect after backoff on a loaded machine can take seconds.
    await eventually(lambda: stack.venue.reconnects >= 1, 15)
    await eventually(lambda: f"user:{ex.account_id('alice-key')}" in ex.ws_subscriptions(), 15)
    ex.trade_through(SYMBOL, "SELL", "49500", "0.1")
    await eventually(lambda: order.status is OrderStatus.FILLED, 15)
    assert len(stack.storage.load_fills(client_order_id=order.client_order_id)) == 1


async def test_min_notional_is_refused_before_sending(ex: SandboxExchange, stack: Stack) -> None:
    before = len(ex.engine.orders)
    exc = await raises(
        stack.venue.submit(_order("tiny-limit-1", Side.BUY, "0.0001", "45000")),
        DefinitiveVenueError,
    )
    assert isinstance(exc, DefinitiveVenueError) and exc.code == "MIN_NOTIONAL"
    assert "below the minimum 5" in str(exc)
    exc = await raises(
        stack.venue.submit(_order("tiny-market-1", Side.BUY, "0.00005")), DefinitiveVenueError
    )
    assert isinstance(exc, DefinitiveVenueError) and exc.code == "MIN_NOTIONAL"
    # through the order path the risk engine's instrument check refuses it first
    result = await stack.submit(Side.BUY, "0.00005")
    assert not result.ok
    assert "MIN_NOTIONAL" in result.code
    assert len(ex.engine.orders) == before


async def test_insufficient_funds_is_a_definitive_rejection(stack: Stack) -> None:
    exc = await raises(
        stack.venue.submit(_order("too-big-1", Side.BUY, "3", "49000")), DefinitiveVenueError
    )
    assert isinstance(exc, DefinitiveVenueError) and exc.code == "INSUFFICIENT_FUNDS"


async def test_bad_credentials_are_definitive(ex: SandboxExchange) -> None:
    venue = make_venue(ex, "alice-key", "wrong-secret-123", stream_user_data=False)
    await venue.load_instruments()
    try:
        exc = await raises(venue.fetch_balances(), DefinitiveVenueError)
    finally:
        await venue.close()
    assert isinstance(exc, DefinitiveVenueError) and exc.code in ("AUTHENTICATION", "BAD_REQUEST")
    assert "wrong-secret-123" not in str(exc)


async def test_5xx_is_ambiguous(ex: SandboxExchange, stack: Stack) -> None:
    ex.faults.update({"http_5xx_rate": 1.0})
    exc = await raises(stack.venue.fetch_balances(), AmbiguousVenueError)
    assert isinstance(exc, AmbiguousVenueError) and exc.code == "EXCHANGE_NOT_AVAILABLE"


async def test_the_rig_client_waits_out_a_pause_of_the_whole_test_process(
    ex: SandboxExchange,
) -> None:
    """The sandbox answers from the test's own process and event loop: when that process stops
    while a request is on the wire (a full garbage collection of the whole suite's heap, the
    process descheduled on a loaded 2-core machine), the answer comes late by the pause. The
    rig's client must wait that out; with a 2 s timeout a setup's balance call timed out once
    in a full run (RequestTimeout, the sandbox having answered nothing wrong)."""
    venue = make_venue(ex, stream_user_data=False)
    await venue.connect()
    try:
        # the account call is counted, answered, then held 50 ms before it is sent
        ex.faults.update({"latency_after_ms_by_endpoint": {"/api/v3/account": 50}})
        weight = ex.limiter.used("127.0.0.1", ex.now_ms())
        call = asyncio.create_task(venue.fetch_balances())
        await eventually(lambda: ex.limiter.used("127.0.0.1", ex.now_ms()) > weight)
        time.sleep(RIG_PAUSE_S)  # the whole process stops: neither side runs meanwhile
        balances = await call
    finally:
        await venue.close()
    assert {b.asset: b.total for b in balances}["USDT"] == Decimal("100000")
