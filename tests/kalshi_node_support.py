"""A sandbox node on a local Kalshi demo exchange, and buying through its order path."""

from __future__ import annotations

from collections.abc import Callable
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
