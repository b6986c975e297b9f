"""A hand close of a strategy's position: one rule on the paper venue and the sandbox.

A reduce-only order is booked to its own strategy id. Sent under another id than the one holding
the position (the API's default `external`), its sale would open a short for that id and leave
the holder's long open: a reduce-only order that grows a position. The risk engine refuses it on
every venue and names the strategy to send it under; sent under that id, it closes the position
on the paper venue and on the Binance-compatible sandbox alike."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bots_support import SYMBOL, quote
from native_exits_support import live_alpha
from test_api_support import bearer, build_app, client, next_candle, replayed_node
from test_paper_reduce_only_owner import held_before
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox.testing import eventually, seeded_exchange

HELD = D("0.002")

pytestmark = pytest.mark.usefixtures("vault_env")


def held(node: TradingNode, venue: str, strategy: str) -> D:
    pos = node.portfolio.positions.get((venue, SYMBOL, strategy))
    return D(0) if pos is None else pos.quantity


def hand_close(venue: str, strategy: str, amount: D) -> OrderIntent:
    return OrderIntent(
        strategy, venue, SYMBOL, Side.SELL, amount, OrderType.MARKET, reduce_only=True,
        signal={"source": "api"},
    )  # fmt: skip


async def refused_then_closed(node: TradingNode, venue: str, fill) -> None:  # type: ignore[no-untyped-def]
    """`a` holds a long; a reduce-only sale under `external` is refused before the venue, the
    same sale under `a` closes it and books nothing to `external`."""
    amount = node.portfolio.sellable(node.portfolio.positions[(venue, SYMBOL, "a")])
    other = await node.submit(hand_close(venue, "external", amount))
    assert other.code == "REDUCE_ONLY_WOULD_GROW", (other.code, other.reason)
    assert other.order is None  # nothing reached the venue
    assert "strategy_id" in other.reason and "'a'" in other.reason, other.reason
    assert held(node, venue, "external") == 0
    own = await node.submit(hand_close(venue, "a", amount))
    assert own.ok and own.order is not None, own.reason
    await fill(own.order)
    assert 0 <= held(node, venue, "a") < D("0.00001")
    assert held(node, venue, "external") == 0


async def test_a_hand_close_under_another_id_is_refused_on_the_sandbox(tmp_path):
    # was: the risk engine let it through (it shrank the account's net), the sandbox (a spot
    # venue: no reduce-only) filled it, and `external` held a -0.002 short beside a's long
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        buy = await node.submit(OrderIntent("a", "binance", SYMBOL, Side.BUY, HELD))
        assert buy.ok and buy.order is not None, buy.reason
        await eventually(lambda: held(node, "binance", "a") > 0)

        async def filled(order) -> None:  # type: ignore[no-untyped-def]
            await eventually(lambda: order.status is OrderStatus.FILLED)

        await refused_then_closed(node, "binance", filled)


async def test_a_hand_close_under_another_id_is_refused_on_the_paper_venue(tmp_path, data_dir):
    # was: the risk engine passed it and the paper venue rejected it (REDUCE_ONLY_REJECTED),
    # the opposite of the sandbox's answer
    node = build_node(held_before(tmp_path, data_dir))
    await node.start()
    try:
        await node.run()
        start = node.market.mid(SYMBOL)
        assert start is not None
        start = start.quantize(D("0.01"))
        buy = await node.submit(OrderIntent("a", "paper", SYMBOL, Side.BUY, HELD))
        assert buy.ok and buy.order is not None, buy.reason
        await quote(node, start)
        await eventually(lambda: held(node, "paper", "a") > 0)

        async def filled(order) -> None:  # type: ignore[no-untyped-def]
            await quote(node, start)
            await eventually(lambda: order.status is OrderStatus.FILLED)

        await refused_then_closed(node, "paper", filled)
    finally:
        await node.stop()
        node.close()


async def test_a_hand_close_through_the_api_names_the_id_to_send_it_under(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    try:
        buy = await node.submit(OrderIntent("a", "paper", SYMBOL, Side.BUY, D("0.001")))
        assert buy.ok and buy.order is not None, buy.reason
        next_candle(node)
        await eventually(lambda: held(node, "paper", "a") > 0)
        amount = str(node.portfolio.sellable(node.portfolio.positions[("paper", SYMBOL, "a")]))
        close = {"venue": "paper", "symbol": SYMBOL, "side": "sell", "amount": amount,
                 "reduce_only": True}  # fmt: skip
        async with client(app) as http:
            other = await http.post("/api/v1/orders", json=close, headers=bearer(tokens.trader))
            assert other.json()["code"] == "REDUCE_ONLY_WOULD_GROW", other.text
            assert f"strategy_id 'a' holds {amount}" in other.json()["reason"], other.text
            own = await http.post(
                "/api/v1/orders", json={**close, "strategy_id": "a"}, headers=bearer(tokens.trader)
            )
            assert own.status_code == 201, own.text
        next_candle(node)
        await eventually(lambda: held(node, "paper", "a") == 0)
        assert held(node, "paper", "external") == 0
    finally:
        node.close()
