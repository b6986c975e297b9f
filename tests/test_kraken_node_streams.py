"""The node's Kraken venue streams public data over the Kraken sandbox's websocket v2 (ccxt.pro
on 127.0.0.1): a strategy trades on what the streams tell it, the hub's streams are streamed
(not polled), and a dropped socket is resubscribed with the data flowing again."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kraken_support import carol_venue
from live_support import PASSPHRASE, RISK
from node_support import trading_live
from test_live_hub import Sink
from tradeguard.config import Config
from tradeguard.marketdata.live.hub import LiveHub
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.sandbox.testing import eventually
from tradeguard.secrets.vault import ScryptParams, Vault

D = Decimal

# Buys 0.002 BTC at the best ask after each public trade below 50,000 it hears.
FOLLOWER = """
from decimal import Decimal

from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.strategies.base import Strategy


class DipFollower(Strategy):
    timeframe = "1m"
    book_depth = 5
    wants_trades = True

    def on_book(self, book):
        self.best_ask = book.best_ask()

    def on_trade(self, trade):
        ask = getattr(self, "best_ask", None)
        if trade.price >= Decimal("50000") or ask is None:
            return
        self.emit(OrderIntent(
            strategy_id=self.id, venue=self.venue, symbol=self.symbol, side=Side.BUY,
            amount=Decimal("0.002"), type=OrderType.LIMIT, price=ask[0],
            time_in_force=TimeInForce.IOC,
        ))
"""


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    v = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    v.create(PASSPHRASE)
    v.add("carol", "kraken", {"api_key": CAROL_KEY, "secret": CAROL_SECRET})
    v.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    yield


def _config(tmp_path: Path, kx: KrakenSandbox) -> Config:
    (tmp_path / "follower.py").write_text(FOLLOWER, encoding="utf-8")
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "reconcile": {"balance_sync_interval_s": 0},
        "venues": [{"name": "kraken", "kind": "ccxt", "exchange": "kraken",
                    "credentials": "carol", "rest_url": kx.base_url, "symbols": ["BTC/USD"]}],
        "strategies": [{"id": "dip", "kind": f"{tmp_path / 'follower.py'}:DipFollower",
                        "venue": "kraken", "symbol": "BTC/USD"}],
        "risk": RISK,
    })  # fmt: skip


def _streams(node: TradingNode) -> dict[str, dict[str, Any]]:
    assert node.live is not None
    return {s["stream"]: s for s in node.live.status() if s["venue"] == "kraken"}


@pytest.mark.usefixtures("vault")
async def test_a_strategy_trades_on_kraken_streams_and_after_the_socket_drops(
    tmp_path: Path,
) -> None:
    async with seeded_kraken() as kx:
        node = TradingNode(_config(tmp_path, kx))
        await node.start()
        async with trading_live(node):
            await eventually(
                lambda: {c for c, _ in kx.kraken_ws.subscriptions()} >= {"book", "trade"},
                timeout_s=15,
            )
            streams = _streams(node)
            assert {"book", "trades"} <= streams.keys()
            assert not any(s["polled"] for s in streams.values()), streams
            kx.trade_through("BTC/USD", "SELL", "49999", "0.1")  # a public trade below 50,000
            await eventually(lambda: len(node.storage.load_orders()) == 1, timeout_s=15)
            await eventually(
                lambda: node.storage.load_orders()[0].status is OrderStatus.FILLED, timeout_s=15
            )
            [order] = node.storage.load_orders()
            assert (order.strategy_id, order.price) == ("dip", D("50001"))
            dropped = kx.disconnect_websockets()
            assert dropped >= 1
            # The book's watch waits on the socket and fails with it. The trades' may be between
            # two watches (handing the last trades on): ccxt then subscribes anew on its next
            # call, with no failure to count; the trade below shows the trades flowing again.
            await eventually(lambda: _streams(node)["book"]["reconnects"] >= 1, timeout_s=15)
            await eventually(
                lambda: ("trade", "BTC/USD") in kx.kraken_ws.subscriptions(), timeout_s=15
            )
            kx.trade_through("BTC/USD", "SELL", "49998", "0.1")
            await eventually(lambda: len(node.storage.load_orders()) == 2, timeout_s=15)


async def test_the_hub_streams_kraken_book_trades_candles_and_quotes(kx: KrakenSandbox) -> None:
    async with carol_venue(kx) as venue:
        assert venue.market_data().streams() >= {"book", "trades", "candles", "quotes"}
        sink = Sink()
        hub = LiveHub({venue.name: venue.market_data()}, sink)
        hub.subscribe([
            Subscription("book", venue.name, "BTC/USD", depth=5),
            Subscription("trades", venue.name, "BTC/USD"),
            Subscription("quotes", venue.name, "BTC/USD"),
        ])  # fmt: skip
        try:
            await eventually(lambda: len(kx.kraken_ws.subscriptions()) >= 3)
            book_key = (venue.name, "BTC/USD")
            await eventually(lambda: book_key in hub.books and hub.books[book_key].best_ask())
            kx.set_book("BTC/USD", bids=[("49990", "3")], asks=[("50010", "4")])
            book = hub.books[book_key]
            await eventually(lambda: book.best_ask() == (D("50010"), D(4)))
            await eventually(lambda: any(q.ask == D("50010") for q in sink.quotes))
            kx.trade_through("BTC/USD", "SELL", "49990", "0.5")
            await eventually(lambda: len(sink.trades) == 1)
            assert sink.trades == [str(kx.engine.trades["BTCUSD"][-1].trade_id)]
            stats = {s["stream"]: s for s in hub.status()}
            assert not any(s["polled"] for s in stats.values()), stats
        finally:
            await hub.stop()


async def test_kraken_quotes_fall_back_to_rest_while_the_websocket_is_refused(
    kx: KrakenSandbox,
) -> None:
    async with carol_venue(kx) as venue:
        sink = Sink()
        hub = LiveHub({venue.name: venue.market_data()}, sink)
        venue.quote_refresh_s = 0.2  # the REST snapshot's period while the socket is down
        hub.subscribe([Subscription("quotes", venue.name, "BTC/USD")])
        try:
            await eventually(lambda: ("ticker", "BTC/USD") in kx.kraken_ws.subscriptions())
            kx.faults.update({"refuse_ws": True})
            kx.disconnect_websockets()
            await eventually(lambda: hub.status()[0]["state"] == "rest_fallback", timeout_s=15)
            kx.set_book("BTC/USD", bids=[("49900", "2")], asks=[("49950", "2")])
            await eventually(lambda: any(q.ask == D("49950") for q in sink.quotes), timeout_s=15)
            assert not kx.kraken_ws.conns  # that quote came by REST
            kx.faults.update({"refuse_ws": False})
            await eventually(lambda: hub.status()[0]["state"] == "streaming", timeout_s=20)
            kx.set_book("BTC/USD", bids=[("49800", "2")], asks=[("49850", "2")])
            await eventually(lambda: any(q.ask == D("49850") for q in sink.quotes), timeout_s=15)
        finally:
            await hub.stop()
