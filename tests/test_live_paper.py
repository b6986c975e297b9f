"""A paper venue on live data (`data_venue`): resting paper orders fill from the sandbox's live
quotes and closed candles by the replays' fill model, and never from what came before them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from live_support import sandbox_config, write_vault
from tradeguard.config import Config
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import ConfigError
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.venues.modes import check_mode

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
    with pytest.raises(
        ValueError,
        match=r"data_venue='nowhere' must name a venue of kind ccxt, kalshi or polymarket",
    ):
        Config.model_validate({
            "mode": "sandbox",
            "venues": [{"name": "paper", "kind": "paper", "data_venue": "nowhere"}],
        })  # fmt: skip


def data_only_paper(tmp_path: Path, ex: SandboxExchange, **binance: Any) -> dict[str, Any]:
    """A paper venue fed by a `data_only` exchange venue that holds no keys."""
    doc = paper_on_live(tmp_path, ex).model_dump(mode="json", exclude_defaults=True)
    doc["strategies"] = []
    venue = doc["venues"][0]
    del venue["credentials"]
    venue.update({"data_only": True, **binance})
    return doc


async def test_a_data_only_venue_feeds_paper_fills_and_never_sends_a_key(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    async with seeded_exchange(SandboxConfig(request_log_path=log)) as ex:
        node = TradingNode(Config.model_validate(data_only_paper(tmp_path, ex)))
        assert set(node.venues) == {"paper"} and set(node.data_venues) == {"binance"}
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            hub = node.live_hub()
            hub.subscribe([Subscription("quotes", "paper", "BTC/USDT")])
            await eventually(lambda: any(s["venue"] == "binance" for s in hub.status()))
            # the book stream is subscribed on the exchange: a change after this is pushed
            await eventually(lambda: any("bookticker" in s for s in ex.ws_subscriptions()))
            await eventually(lambda: node.market.mid("BTC/USDT") == D(50000))
            by_quote = await _rest(node, "49500")
            ex.set_book("BTCUSDT", bids=[("49300", "1")], asks=[("49400", "0.5")])
            await eventually(lambda: _order(node, by_quote).status is OrderStatus.FILLED)
        finally:
            node.request_stop()
            await run
            await node.stop()
        balances = {b.asset: b.total for b in node.storage.load_balances("paper")}
        assert node.storage.load_balances("binance") == []  # no account read, none stored
        node.close()
    # at the limit price, with the paper venue's 0.1 % fee
    assert balances["BTC"] == D("0.01") and balances["USDT"] == D("10000") - D("495") - D("0.495")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert {c["path"] for c in calls} >= {"/api/v3/exchangeInfo"}
    assert [c for c in calls if "api_key" in c or "signature" in c["params"]] == []
    private = ("/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades",
               "/api/v3/userDataStream")  # fmt: skip
    assert not [c for c in calls if c["path"].startswith(private)]


async def test_data_only_is_for_a_keyless_exchange_venue_that_nothing_trades_on(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:  # started: a URL to connect to has a real port
        _data_only_refusals(tmp_path, ex)


def _data_only_refusals(tmp_path: Path, ex: SandboxExchange) -> None:
    with pytest.raises(
        ValueError,
        match=r"venue 'binance': data_only = true is for a venue of kind ccxt, kalshi or "
        r"polymarket without credentials \(kind='ccxt', credentials='alice'\)",
    ):
        Config.model_validate(data_only_paper(tmp_path, ex, credentials="alice"))
    doc = data_only_paper(tmp_path, ex)
    doc["strategies"] = [{"id": "s", "kind": "ma_crossover", "venue": "binance",
                          "symbol": "BTC/USDT"}]  # fmt: skip
    with pytest.raises(
        ValueError,
        match=r"strategy 's' trades on venue 'binance', which is "
        r"data_only .* venues that trade: \['paper'\]",
    ):
        Config.model_validate(doc)


async def test_outside_live_mode_a_real_exchange_may_be_read_only_as_data_only(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:  # started: a URL to connect to has a real port
        real = data_only_paper(tmp_path, ex, sandbox=False)
    for key in ("rest_url", "ws_url"):
        del real["venues"][0][key]
    check_mode(Config.model_validate(real), confirm_live=False, environ={})  # accepted
    real["venues"][0]["data_only"] = False
    with pytest.raises(
        ConfigError,
        match=r"venue\(s\) \['binance'\] have sandbox = false .* "
        r"data_only = true to read its market data only",
    ):
        check_mode(Config.model_validate(real), confirm_live=False, environ={})


async def test_a_paper_account_on_a_data_only_venue_values_bnb_from_its_public_ticker(
    tmp_path: Path,
) -> None:
    log = tmp_path / "requests.jsonl"
    ex = seeded_exchange(SandboxConfig(request_log_path=log))
    ex.add_market("BNBUSDT", "BNB", "USDT", "0.1", "0.001", "0.001", "5")
    ex.set_book("BNBUSDT", bids=[("599", "10")], asks=[("601", "10")])
    async with ex:
        doc = data_only_paper(tmp_path, ex)
        doc["venues"][1]["balances"] = {"USDT": "10000", "BNB": "2"}  # no strategy trades it
        doc["node"]["reference_prices_interval_s"] = 0.05
        node = TradingNode(Config.model_validate(doc))
        await node.start()
        portfolio = node.portfolio
        assert portfolio.price_of("BNB") == D(600)  # read once before trading starts
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            ex.set_book("BNBUSDT", bids=[("699", "10")], asks=[("701", "10")])
            await eventually(lambda: portfolio.price_of("BNB") == D(700))  # and on a schedule
            assert portfolio.values_of(portfolio.book("paper").all())["BNB"] == D(1400)
            assert node.reference_prices().status()["BNB"] == "binance BNB/USDT"
        finally:
            node.request_stop()
            await run
            await node.stop()
            node.close()
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(c["path"] == "/api/v3/ticker/24hr" for c in calls)
    assert [c for c in calls if "api_key" in c or "signature" in c["params"]] == []
    assert not [c for c in calls if c["path"].startswith(("/api/v3/account", "/api/v3/order"))]
