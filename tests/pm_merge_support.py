"""A node over the local Polymarket CLOB holding a YES+NO pair, the CLOB's outside merge, and a
balance sync past its quiet wait.

Holds no tests; `test_pm_merge_sync.py`, `test_pm_merge_repeat.py` and
`test_pm_balance_sync_restart.py` import it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from test_pm_node_crash import POLY_YES, node_config, vault_with
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import polymarket_demo, polymarket_keys

POLY_NO = POLY_YES.replace(":YES/", ":NO/")
MARKET = POLY_YES.split(":")[0]


@asynccontextmanager
async def demo_clob() -> AsyncIterator[tuple[Any, dict[str, str]]]:
    """The local Polymarket CLOB, started, and its demo account's keys; stopped after."""
    keys = polymarket_keys(None)
    server = polymarket_demo(keys)
    await server.start()
    try:
        yield server, keys
    finally:
        await server.stop()


def pm_config(tmp_path: Path, monkeypatch: Any, server: Any, keys: dict[str, str]) -> Config:
    """A node config trading on `server` with the demo keys in a vault."""
    venue = {"name": "polymarket", "kind": "polymarket", "credentials": "demo",
             "rest_url": server.url}  # fmt: skip
    vault_with(tmp_path, monkeypatch, "demo", "polymarket",
               {k: v for k, v in keys.items() if k != "address"})  # fmt: skip
    return node_config(tmp_path, venue)


@asynccontextmanager
async def running(cfg: Config) -> AsyncIterator[TradingNode]:
    """A node of `cfg`, started; stopped and closed after."""
    node = TradingNode(cfg)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        node.close()


async def merge(url: str, address: str, amount: str, status: int = 200) -> dict:
    """The CLOB's outside merge of `amount` pairs of MARKET; asserts the answer's status."""
    async with aiohttp.ClientSession() as http:
        body = {"address": address, "condition_id": MARKET, "amount": amount}
        async with http.post(f"{url}/admin/merge", json=body) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()


async def buy(node: TradingNode, symbol: str, quantity: Decimal = Decimal(10), sid: str = "s1"):
    """A limit buy at the ask for strategy `sid`; asserts it filled."""
    quote = await node.venues["polymarket"].fetch_quote(symbol)
    await node.on_quote(quote)
    placed = await node.submit(OrderIntent(
        sid, "polymarket", symbol, Side.BUY, quantity, OrderType.LIMIT, quote.ask,
    ))  # fmt: skip
    assert placed.order is not None and placed.order.status is OrderStatus.FILLED, placed


@asynccontextmanager
async def holding_a_pair(
    tmp_path: Path, monkeypatch: Any, server: Any, keys: dict[str, str]
) -> AsyncIterator[tuple[TradingNode, Decimal]]:
    """A started node whose strategy s1 holds 10 YES and 10 NO, and its cash before buying
    them; stopped and closed after."""
    async with running(pm_config(tmp_path, monkeypatch, server, keys)) as node:
        start = node.portfolio.book("polymarket").total("PUSD")
        await buy(node, POLY_YES)
        await buy(node, POLY_NO)
        yield node, start


async def config_after_a_pair(
    tmp_path: Path, monkeypatch: Any, server: Any, keys: dict[str, str]
) -> Config:
    """The config of a node that bought the pair of `holding_a_pair` and stopped."""
    async with holding_a_pair(tmp_path, monkeypatch, server, keys) as (node, _):
        return node.config


async def synced(node: TradingNode, sync: Any = None) -> tuple[Any, list]:
    """The node's balance sync (a new one, or `sync` again), run once on polymarket past its
    "changed in the last 2 s" wait; returns the sync and the differences it found."""
    sync = sync or node.balance_sync()
    assert sync is not None
    await asyncio.sleep(2.1)
    return sync, await sync.sync_once("polymarket")


def held(node: TradingNode) -> dict[tuple[str, str], Decimal]:
    """Quantity held per (symbol, strategy)."""
    return {(s, sid): p.quantity for (_, s, sid), p in node.portfolio.positions.items()}
