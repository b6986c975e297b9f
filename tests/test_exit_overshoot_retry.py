"""The buy-back of an overshoot refused, then tried again: a hand close resting beside it, a
thin book filling it in parts, a halt, a node stopped meanwhile; via the real ccxt client against
the Binance-compatible sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

import native_exits_support
from exit_siblings_support import bracket, held
from native_exits_support import live_alpha, native_config
from tradeguard.api.schemas import IntentRequest
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side, TradingState
from tradeguard.model.events import Event
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode, exit_buyback
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")

D = Decimal


def buybacks(node: TradingNode) -> list[Order]:
    return [o for o in node.orders.orders.values() if o.signal.get("exit") == "overshoot"]


async def past_flat(
    node: TradingNode,
    ex: SandboxExchange,
    refuse: Callable[[], tuple[str, str] | None],
    asks: str = "5",
) -> list[Event]:
    """Rest a bracket, fill both exits (the stop before its cancel lands) with the buy-back
    refused whenever `refuse()` says why; return the exit events. `asks`: what the house
    offers after the fall (the buy-back takes it)."""
    events: list[Event] = []
    node.bus.subscribe(events.append, "exit.")
    tp, sl, _ = await bracket(node)
    venue = node.venues["binance"]
    cancel, submit = venue.cancel, node.submit

    async def slow_cancel(order: Order) -> object:
        await asyncio.sleep(3)  # the cancel is on its way while the market moves
        return await cancel(order)

    async def refusing(intent: OrderIntent, *args: object, **kw: object) -> object:
        why = refuse() if intent.signal.get("exit") == "overshoot" else None
        if why is not None:
            return await submit(intent, gate=lambda: why)
        return await submit(intent, *args, **kw)  # type: ignore[arg-type]

    venue.cancel = slow_cancel  # type: ignore[method-assign]
    node.submit = refusing  # type: ignore[method-assign]
    ex.set_book("BTCUSDT", bids=[("51490", "5")], asks=[("51500", "5")])
    ex.trade_through("BTCUSDT", "BUY", "51500", "0.001")
    await eventually(lambda: node.orders.orders[tp].status is OrderStatus.FILLED, 30)
    ex.set_book("BTCUSDT", bids=[("48500", "5")], asks=[("48510", asks)])
    ex.trade_through("BTCUSDT", "SELL", "48500", "0.001")
    await eventually(lambda: node.orders.orders[sl].status is OrderStatus.FILLED, 30)
    await eventually(lambda: any(e.kind == "exit.overshoot_close_refused" for e in events), 30)
    return events


def once(code: str = "STALE_MARKET_DATA") -> Callable[[], tuple[str, str] | None]:
    said: list[str] = []

    def refuse() -> tuple[str, str] | None:
        if said:
            return None
        said.append(code)
        return code, "no fresh quote"

    return refuse


async def test_a_hand_close_resting_as_a_limit_is_not_bought_back_beside(tmp_path):
    # The buy-back was refused; the operator rested a limit buy for the short through the API.
    # The retry counted only the strategy's market orders and bought the short back beside
    # it: once the hand limit filled too, the strategy was long what it had sold twice.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await past_flat(node, ex, once())
        short = -held(node)
        assert short > 0
        await eventually(lambda: node.market.mid("BTC/USDT") == D("48505"), 30)  # the fall
        body = IntentRequest.model_validate({
            "strategy_id": "manual", "venue": "binance", "symbol": "BTC/USDT", "side": "buy",
            "type": "limit", "amount": str(short), "price": "48000",
        })  # fmt: skip
        hand = await node.submit(body.to_intent("api:ops(1)"))
        assert hand.ok and hand.order is not None, hand.reason
        await eventually(lambda: hand.order is not None and hand.order.venue_order_id != "", 30)
        await asyncio.sleep(2.5)  # past the retry, 1 s after the refusal
        assert [o.filled for o in buybacks(node) if o.filled > 0] == [], "bought back beside"
        assert held(node) == -short
        ex.set_book("BTCUSDT", bids=[("47990", "5")], asks=[("47999", "5")])  # the limit fills
        await eventually(lambda: held(node) == 0, 30)
        await asyncio.sleep(1.5)
        assert held(node) == 0


async def test_a_limit_whose_source_the_api_did_not_write_is_no_hand_close(tmp_path):
    # A limit buy for the short that did not come through the orders API (a strategy's or a
    # bot's signal may carry a `source` of its own, such as a scanner's name) was taken for a
    # hand close by any `source` at all: the retry bought nothing back and the short stayed.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await past_flat(node, ex, once())
        short = -held(node)
        assert short > 0
        await eventually(lambda: node.market.mid("BTC/USDT") == D("48505"), 30)  # the fall
        limit = await node.submit(
            OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, short, OrderType.LIMIT,
                        D("48000"), signal={"source": "scanner"})
        )  # fmt: skip
        assert limit.ok and limit.order is not None, limit.reason
        await eventually(lambda: held(node) == 0, 30)  # bought back at the next try
        assert [o.filled for o in buybacks(node) if o.filled > 0] == [short]
        assert limit.order.is_open and limit.order.filled == 0


async def test_a_bid_resting_from_before_the_overshoot_is_no_hand_close(tmp_path, monkeypatch):
    # The strategy had a limit buy well below the market resting from before (a bid placed
    # through the API while it held its long). The retry took it for a hand close of the
    # short and bought nothing back: the short stayed, with nothing more said.
    def wide_band(*args: object) -> Config:  # a bid far from the mid passes the price band
        cfg = native_config(*args)  # type: ignore[arg-type]
        risk = cfg.risk.model_copy(update={"price_band_pct": D(50)})
        return cfg.model_copy(update={"risk": risk})

    monkeypatch.setattr(native_exits_support, "native_config", wide_band)
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        body = IntentRequest.model_validate({
            "strategy_id": "manual", "venue": "binance", "symbol": "BTC/USDT", "side": "buy",
            "type": "limit", "amount": "0.0025", "price": "40000",
        })  # fmt: skip
        bid = await node.submit(body.to_intent("api:ops(1)"))
        assert bid.ok and bid.order is not None, bid.reason
        await eventually(lambda: bid.order is not None and bid.order.venue_order_id != "", 30)
        await past_flat(node, ex, once())
        assert held(node) < 0
        await eventually(lambda: held(node) == 0, 30)  # bought back at the next try
        assert bid.order.is_open and bid.order.filled == 0


async def test_a_buyback_beside_another_strategys_long_passes_while_reducing(tmp_path):
    # Strategy b holds a long on the symbol, larger than what manual's exits sold past flat:
    # the account's net stays long, so the buy-back went as no reduce-only order. A breaker
    # set trading REDUCING after the fall; the buy-back, an entry to the risk engine, was
    # refused (TRADING_REDUCING) at every try and manual stayed short.
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        other = await node.submit(
            OrderIntent("b", "binance", "BTC/USDT", Side.BUY, D("0.003"), OrderType.MARKET)
        )
        assert other.ok and other.order is not None, other.reason
        await eventually(lambda: node.portfolio.net_quantity("binance", "BTC/USDT") > 0, 30)

        def reducing_after() -> tuple[str, str] | None:
            if node.risk.state is TradingState.REDUCING:
                return None
            node.risk.set_reducing("drawdown breaker in the test", "test")
            return "STALE_MARKET_DATA", "no fresh quote"

        await past_flat(node, ex, reducing_after)
        assert held(node) < 0 < node.portfolio.net_quantity("binance", "BTC/USDT")
        await eventually(lambda: held(node) == 0, 30)  # bought back at the next try
        assert node.risk.state is TradingState.REDUCING


async def test_a_buyback_the_book_fills_in_parts_is_tried_again_until_flat(tmp_path, monkeypatch):
    # The house offers 0.0005 at a time (quoted again each second): each buy-back fills that
    # much and the rest expires. The retry stopped after the first part, the rest left short.
    monkeypatch.setattr(exit_buyback, "RETRY_DELAYS_S", (1.0, 1.0, 1.0, 1.0))
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        await past_flat(node, ex, once(), asks="0.0005")
        await eventually(lambda: len([o for o in buybacks(node) if o.filled > 0]) >= 1, 30)
        step = D("0.00001")  # a buy's fee, taken in BTC, leaves less than a step unbought
        await eventually(lambda: -step < held(node) <= 0, 60)
        parts = [o.filled for o in buybacks(node) if o.filled > 0]
        assert len(parts) >= 2 and all(p <= D("0.0005") for p in parts)
        await asyncio.sleep(2.5)
        assert -step < held(node) <= 0 and list(node.orders.open) == []


async def test_a_buyback_refused_by_a_halt_later_is_alerted_with_how_to_close_by_hand(
    tmp_path, monkeypatch
):
    # Refused first for stale data, then trading was halted: every try after was refused
    # for the halt with only a log line, the one alert still saying stale data.
    monkeypatch.setattr(exit_buyback, "RETRY_DELAYS_S", (1.0, 1.0, 1.0, 1.0))
    ex = seeded_exchange()
    async with ex, live_alpha(tmp_path, ex) as node:
        halted: list[bool] = []

        def stale_then_halt() -> tuple[str, str] | None:
            if not halted:
                halted.append(True)
                node.risk.halt("operator halt in the test", "test")
                return "STALE_MARKET_DATA", "no fresh quote"
            return None  # the risk engine refuses it now: HALTED

        events = await past_flat(node, ex, stale_then_halt)
        short = -held(node)

        def alerts() -> list[Event]:
            return [e for e in events if e.kind == "exit.overshoot_close_refused"]

        await eventually(lambda: len(alerts()) == 2, 30)
        halt = alerts()[1]
        assert halt.severity == "critical" and "TRADING_HALTED" in halt.data["reason"]
        assert "tradeguard resume" in halt.data["by_hand"]
        assert "tradeguard kill --flatten" in halt.data["by_hand"]
        assert str(short) in halt.data["by_hand"]
        assert held(node) == -short  # a halt lets nothing through
        assert [o.filled for o in buybacks(node) if o.filled > 0] == []
        await asyncio.sleep(2.5)  # tried again, refused again: the halt is not alerted twice
        assert len(alerts()) == 2 and held(node) == -short
        node.risk.resume("test", "checked")  # the next try buys it back
        await eventually(lambda: held(node) == 0, 30)


async def test_a_stopped_node_sends_no_buyback_retry(tmp_path, monkeypatch):
    # The retry task outlived node.stop(): a second later it sent the buy-back from a node
    # whose venues and database were closed.
    monkeypatch.setattr(exit_buyback, "RETRY_DELAYS_S", (1.0, 1.0, 1.0, 1.0))
    ex = seeded_exchange()
    stopped: list[bool] = []
    after_stop: list[OrderIntent] = []
    async with ex:
        async with live_alpha(tmp_path, ex) as node:
            submit = TradingNode.submit.__get__(node)

            def refuse_while_running() -> tuple[str, str] | None:
                return None if stopped else ("STALE_MARKET_DATA", "no fresh quote")

            await past_flat(node, ex, refuse_while_running)
            refusing = node.submit

            async def watch(intent: OrderIntent, *args: object, **kw: object) -> object:
                if stopped:
                    after_stop.append(intent)
                    return await submit(intent, *args, **kw)  # type: ignore[arg-type]
                return await refusing(intent, *args, **kw)

            node.submit = watch  # type: ignore[method-assign]
        stopped.append(True)  # the node is stopped and closed
        await asyncio.sleep(2.5)  # past the next retry
        assert after_stop == []
        names = [getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks()]
        left = [n for n in names if n.startswith("Buyback.")]
        assert left == []  # no retry task outlives the node
