"""A silent live stream makes only its own symbol stale; the symbol trades again on its return."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import move_books, sandbox_config, two_symbol_sandbox, write_vault
from tradeguard.marketdata.live.streams import StaleWatch, StreamStats
from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.marketdata.state import MarketState
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually

D = Decimal


def test_a_silent_stream_is_reported_stale_once_and_fresh_on_its_next_message() -> None:
    stats: dict[tuple[str, str, str], StreamStats] = {}
    reports: list[tuple[str, str, str]] = []
    watch = StaleWatch(stats, lambda kind, st: reports.append((kind, st.symbol, st.kind)), 2, 60)
    for sym, kind in (("BTC/USDT", "book"), ("ETH/USDT", "book"), ("ETH/USDT", "trades"),
                      ("ETH/USDT", "candles")):  # fmt: skip
        st = stats[("v", sym, kind)] = StreamStats("v", sym, kind, on_fresh=watch.fresh)
        st.started_wall_ms = st.last_wall_ms = 1_000
    stats[("v", "BTC/USDT", "book")].last_wall_ms = 2_500
    assert watch.check(now_ms=3_000) == []  # 2 s of silence is the limit, not past it
    assert [(s.symbol, s.kind) for s in watch.check(now_ms=3_100)] == [("ETH/USDT", "book")]
    assert watch.check(now_ms=3_200) == [], "reported once"
    # trades may be quiet for good reason; candles get one base interval more
    assert [(s.symbol, s.kind) for s in watch.check(now_ms=63_100)] == [
        ("BTC/USDT", "book"), ("ETH/USDT", "candles"),
    ]  # fmt: skip
    stats[("v", "ETH/USDT", "book")].seen()
    assert reports == [
        ("marketdata.stale", "ETH/USDT", "book"), ("marketdata.stale", "BTC/USDT", "book"),
        ("marketdata.stale", "ETH/USDT", "candles"), ("marketdata.fresh", "ETH/USDT", "book"),
    ]  # fmt: skip
    assert [s.to_json()["stale"] for s in stats.values()] == [True, False, False, True]


def test_a_stalled_stream_dates_its_symbol_while_other_streams_go_on() -> None:
    market = MarketState()
    market.stall("ETH/USDT", "book", 1_000)
    market._last_ms.update({"ETH/USDT": 9_000, "BTC/USDT": 9_000})  # quotes still coming
    assert market.last_update_ms("ETH/USDT") == 1_000
    assert market.last_update_ms("BTC/USDT") == 9_000
    market.unstall("ETH/USDT", "book")
    assert market.last_update_ms("ETH/USDT") == 9_000 and not market.stalled


def test_two_venues_book_streams_of_one_symbol_stall_and_recover_separately() -> None:
    from types import SimpleNamespace

    from tradeguard.node.feed import NodeFeed

    market = MarketState()
    market._last_ms["BTC/USDT"] = 9_000
    pauses = SimpleNamespace(tick=lambda: None)
    node = SimpleNamespace(market=market, _emit=lambda *a: None,
                           _ctx=SimpleNamespace(_pauses=pauses))  # fmt: skip
    feed = NodeFeed(node)  # type: ignore[arg-type]

    def event(kind: str, venue: str, last_ms: int = 0) -> None:
        feed.on_stream_event(kind, {"venue": venue, "symbol": "BTC/USDT", "stream": "book",
                                    "last_ms": last_ms})  # fmt: skip

    event("marketdata.stale", "binance", 1_000)
    event("marketdata.stale", "okx", 5_000)
    assert market.last_update_ms("BTC/USDT") == 1_000  # the older silence counts
    event("marketdata.fresh", "okx")
    assert market.last_update_ms("BTC/USDT") == 1_000  # binance is still silent
    event("marketdata.fresh", "binance")
    assert market.last_update_ms("BTC/USDT") == 9_000 and not market.stalled


async def test_a_stopped_book_stream_blocks_only_its_symbol_until_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with two_symbol_sandbox() as ex:
        config = sandbox_config(tmp_path, ex, [])
        config.risk.stale_data_s = 1
        config.venues[0].symbols = ["BTC/USDT", "ETH/USDT"]
        node = TradingNode(config)
        await node.start()
        mover = asyncio.create_task(move_books(ex))
        try:
            hub = node.live_hub()
            hub.subscribe(
                Subscription(kind, "binance", sym, depth=5 if kind == "book" else 0)
                for sym in ("BTC/USDT", "ETH/USDT") for kind in ("book", "quotes")
            )  # fmt: skip
            await eventually(lambda: all(s["messages"] > 2 for s in hub.status()))
            assert (await _bid(node, "ETH/USDT", "2900")).ok
            ex.faults.update({"silent_streams": ["ethusdt@depth"]})
            await eventually(lambda: _stale(node) == {("ETH/USDT", "book")}, timeout_s=10)
            quotes = _stream(node, "ETH/USDT", "quotes")["messages"]
            denied = await _bid(node, "ETH/USDT", "2900")
            assert (denied.status, denied.code) == ("denied", "STALE_MARKET_DATA"), denied.reason
            assert "ETH/USDT" in denied.reason
            assert (await _bid(node, "BTC/USDT", "49000")).ok, "the other symbol still trades"
            await eventually(lambda: _stream(node, "ETH/USDT", "quotes")["messages"] > quotes)
            assert _stale(node) == {("ETH/USDT", "book")}, "its quotes going on do not hide it"
            ex.faults.update({"silent_streams": []})
            await eventually(lambda: not _stale(node), timeout_s=10)
            assert (await _bid(node, "ETH/USDT", "2900")).ok, "trading resumes with the data"
        finally:
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mover
            await node.stop()
            node.close()
    kinds = [e.kind for e in node.storage.load_events(kind_prefix="marketdata.", limit=50)]
    assert "marketdata.stale" in kinds and "marketdata.fresh" in kinds


async def _bid(node: TradingNode, symbol: str, price: str):  # type: ignore[no-untyped-def]
    intent = OrderIntent(
        strategy_id="http", venue="binance", symbol=symbol, side=Side.BUY, amount=D("0.01"),
        type=OrderType.LIMIT, price=D(price),
    )  # fmt: skip
    return await node.submit(intent)


def _stale(node: TradingNode) -> set[tuple[str, str]]:
    assert node.live is not None
    return {(s["symbol"], s["stream"]) for s in node.live.status() if s["stale"]}


def _stream(node: TradingNode, symbol: str, kind: str) -> dict:  # type: ignore[type-arg]
    assert node.live is not None
    return next(s for s in node.live.status() if (s["symbol"], s["stream"]) == (symbol, kind))
