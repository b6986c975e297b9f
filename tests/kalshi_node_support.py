"""A sandbox node on a local Kalshi demo exchange, and buying and resting a sell through its
order path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from test_pm_node_crash import node_config, vault_with
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys

TICKER = "KXFED-26DEC-T4.00"
YES, NO = f"{TICKER}:YES/USD", f"{TICKER}:NO/USD"


async def kalshi_node(
    tmp_path: Path,
    monkeypatch: Any,
    prepare: Callable[[KalshiExchange, dict[str, str]], None] | None = None,
) -> tuple[KalshiExchange, Config, dict[str, str]]:
    """Start a Kalshi demo exchange (`prepare` edits it first), put its keys in a vault and
    return (exchange, the config of a sandbox node trading on it, the keys)."""
    keys = kalshi_keys(None)
    server = kalshi_demo(keys)
    if prepare is not None:
        prepare(server, keys)
    await server.start()
    vault_with(tmp_path, monkeypatch, "demo", "kalshi", keys)
    cfg = node_config(tmp_path, {
        "name": "kalshi", "kind": "kalshi", "credentials": "demo", "rest_url": server.rest_url,
    })  # fmt: skip
    return server, cfg, keys


async def buy(node: TradingNode, symbol: str, amount: str, price: str, sid: str = "s1") -> Order:
    """Buy on the node's `kalshi` venue at its current quote; the order must fill at once."""
    venue = node.venues["kalshi"]
    await node.on_quote(await venue.fetch_quote(symbol))
    intent = OrderIntent(
        sid, "kalshi", symbol, Side.BUY, Decimal(amount), OrderType.LIMIT, Decimal(price)
    )
    result = await node.submit(intent)
    assert result.order is not None and result.order.status is OrderStatus.FILLED, result
    return result.order


@asynccontextmanager
async def started_kalshi_node(
    tmp_path: Path, monkeypatch: Any
) -> AsyncIterator[tuple[KalshiExchange, TradingNode, dict[str, str]]]:
    """A started sandbox node on a Kalshi demo exchange: yield (exchange, node, keys); the node
    is stopped and closed, then the exchange stopped, on leaving."""
    server, cfg, keys = await kalshi_node(tmp_path, monkeypatch)
    node = TradingNode(cfg)
    try:
        await node.start()
        yield server, node, keys
    finally:
        await node.stop()
        node.close()
        await server.stop()


async def resting_sell(node: TradingNode) -> tuple[Order, Decimal]:
    """Buy 10 YES at the ask, then rest a sell of them a cent under it (the best ask, inside
    the spread: the first a buy meets); return (the sell, its price)."""
    ask = (await node.venues["kalshi"].fetch_quote(YES)).ask
    await buy(node, YES, "10", str(ask))
    price = ask - Decimal("0.01")
    sell = await node.submit(
        OrderIntent("s1", "kalshi", YES, Side.SELL, Decimal(10), OrderType.LIMIT, price)
    )
    assert sell.order is not None and sell.order.status is OrderStatus.ACCEPTED, sell
    return sell.order, price


def paper_kalshi(tmp_path: Path) -> Config:
    """A paper venue `kpaper` with Kalshi's contract rules, 1,000 USD and the FED:YES and FED:NO
    contracts; no data, no strategies."""
    return Config.model_validate({
        "mode": "paper",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "valuation_asset": "USD"},
        "venues": [{
            "name": "kpaper", "kind": "paper", "exchange": "kalshi", "balances": {"USD": "1000"},
            "instruments": [
                {"symbol": s, "price_tick": "0.01", "amount_step": "1", "min_amount": "1",
                 "min_notional": "0"} for s in ("FED:YES/USD", "FED:NO/USD")
            ],
        }],
        "data": [], "strategies": [],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10"},
    })  # fmt: skip
