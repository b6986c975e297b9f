"""A paper venue on live data (`data_venue`): resting paper orders fill from the sandbox's live
quotes and closed candles by the replays' fill model, and never from what came before them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import sandbox_config, write_vault
from tradeguard.config import Config
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

D = Decimal
MINUTE = 60_000


def paper_on_live(tmp_path: Path, ex: SandboxExchange) -> Config:
    strategy = {  # candles at 1m for BTC/USDT; far too slow an average to ever trade here
        "id": "watch", "kind": "ma_crossover", "venue": "paper", "symbol": "BTC/USDT",
        "params": {"fast": 2, "slow": 5000, "order_usd": "100"},
    }  # fmt: skip
    doc = sandbox_config(tmp_path, ex, []).model_dump(mode="json", exclude_defaults=True)
    doc["strategies"] = [strategy]
    doc["venues"].append({
        "name": "paper", "kind": "paper", "data_venue": "binance",
        "balances": {"USDT": "10000"},
        "instruments": [{"symbol": "BTC/USDT", "price_tick": "0.01", "amount_step": "0.00001"}],
    })  # fmt: skip
    return Config.model_validate(doc)


async def test_resting_paper_orders_fill_from_the_live_quotes_and_candles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        node = TradingNode(paper_on_live(tmp_path, ex))
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            hub = node.live_hub()
            hub.subscribe([Subscription("quotes", "paper", "BTC/USDT")])
            await eventually(lambda: len(hub.status()) == 2 and all(
                s["venue"] == "binance" for s in hub.status()
            ))  # fmt: skip
            for stream in ("bookticker", "kline_1m"):  # the streams are subscribed
                await eventually(lambda: any(stream in s for s in ex.ws_subscriptions()))  # noqa: B023
            by_quote = await _rest(node, "49500")
            by_candle = await _rest(node, "49000")
            # the live quote moves through the first order only
            ex.set_book("BTCUSDT", bids=[("49300", "1")], asks=[("49400", "0.5")])
            await eventually(lambda: _order(node, by_quote).status is OrderStatus.FILLED)
            assert _order(node, by_quote).filled == D("0.01")
            assert _order(node, by_candle).status is OrderStatus.ACCEPTED
            # the next minute trades down to 48,900 (the quote never goes below 49,000)...
            t0 = (ex.now_ms() // MINUTE + 1) * MINUTE
            ex.set_book("BTCUSDT", bids=[("49100", "1"), ("48900", "1")], asks=[("50001", "1")])
            ex.trade_through("BTCUSDT", "SELL", "48900", "1.5", at_ms=t0 + 10)
            ex.set_book("BTCUSDT", bids=[("49999", "1")], asks=[("50001", "1")])
            await asyncio.sleep(0.5)
            assert _order(node, by_candle).status is OrderStatus.ACCEPTED, "not before it closes"
            # ... and closes when the minute after it trades: the closed candle fills the order
            ex.trade_through("BTCUSDT", "BUY", "50001", "0.1", at_ms=t0 + MINUTE + 10)
            await eventually(lambda: _order(node, by_candle).status is OrderStatus.FILLED)
        finally:
            node.request_stop()
            await run
            await node.stop()
        fills = {f.client_order_id: f for f in node.storage.load_fills() if f.venue == "paper"}
        node.close()
    assert {(f.price, f.amount) for f in fills.values()} == {
        (D("49500"), D("0.01")), (D("49000"), D("0.01")),  # each at its own price
    }  # fmt: skip


async def _rest(node: TradingNode, price: str) -> str:
    result = await node.submit(OrderIntent(
        strategy_id="http", venue="paper", symbol="BTC/USDT", side=Side.BUY, amount=D("0.01"),
        type=OrderType.LIMIT, price=D(price),
    ))  # fmt: skip
    assert result.ok and result.order is not None, result.reason
    return result.order.client_order_id


def _order(node: TradingNode, client_id: str):  # type: ignore[no-untyped-def]
    return node.orders.orders[client_id]


def test_data_venue_must_name_an_exchange_venue(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data_venue='nowhere' must name a venue of kind 'ccxt'"):
        Config.model_validate({
            "mode": "sandbox",
            "venues": [{"name": "paper", "kind": "paper", "data_venue": "nowhere"}],
        })  # fmt: skip
