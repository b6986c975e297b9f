"""Shared builders for the API tests: a replayed paper node, tokens, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import httpx
import pyotp
from fastapi import FastAPI

from node_support import paper_config, write_slice
from tradeguard.api.app import create_app
from tradeguard.api.auth import Role, TokenStore
from tradeguard.config import Config
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.node import TradingNode, build_node

PASSPHRASE = "correct horse battery staple for tests"
PERMISSIVE = {
    "max_orders_per_s": "50",
    "max_trades_per_day": 1000,
    "max_open_positions": 50,
    "max_order_notional_usd": "500",
}
FAST_KDF_N = 2**14


@dataclass
class Tokens:
    viewer: str
    trader: str
    admin: str
    trader_id: str
    admin_id: str
    trader_totp: pyotp.TOTP
    admin_totp: pyotp.TOTP


def bare_paper_config(tmp_path: Path, data_dir: Path, rows: int = 200) -> Config:
    """A paper config over the first `rows` real BTC candles: no strategies, permissive risk,
    its SQLite database in `tmp_path`."""
    data = write_slice(data_dir, tmp_path / "btc.csv", rows)
    return paper_config(
        f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, risk=PERMISSIVE, tmp=tmp_path
    )


@asynccontextmanager
async def started_node(
    tmp_path: Path, data_dir: Path, rows: int = 200
) -> AsyncIterator[TradingNode]:
    """A started paper node over the first `rows` real BTC candles, not yet replayed; stopped
    on leaving."""
    node = build_node(bare_paper_config(tmp_path, data_dir, rows))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


async def replayed_node(tmp_path: Path, data_dir: Path, rows: int = 200) -> TradingNode:
    """A started paper node that has replayed the first `rows` real BTC candles, no strategies."""
    node = build_node(bare_paper_config(tmp_path, data_dir, rows))
    await node.start()
    await node.run()
    return node


def make_tokens(store: TokenStore) -> Tokens:
    """Create one token per role; trader and admin get a TOTP second factor."""
    from tradeguard.secrets.vault import ScryptParams

    _, viewer = store.create("viewer", Role.VIEWER)
    t_info, trader = store.create("trader", Role.TRADER)
    a_info, admin = store.create("admin", Role.ADMIN)
    kdf = ScryptParams(n=FAST_KDF_N)
    t_uri = store.setup_totp("trader", PASSPHRASE, kdf)
    a_uri = store.setup_totp("admin", PASSPHRASE, kdf)
    return Tokens(
        viewer, trader, admin, t_info.id, a_info.id,
        pyotp.parse_uri(t_uri), pyotp.parse_uri(a_uri),
    )  # fmt: skip


def build_app(node: TradingNode, failures_per_min: int = 10_000) -> tuple[FastAPI, Tokens]:
    store = TokenStore(node.db, node.storage)
    tokens = make_tokens(store)
    app = create_app(
        node, tokens=store, passphrase=PASSPHRASE, auth_failures_per_min=failures_per_min
    )
    return app, tokens


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


def bearer(token: str, totp: pyotp.TOTP | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if totp is not None:
        headers["X-TOTP"] = totp.now()
    return headers


def next_candle(node: TradingNode) -> None:
    """Feed one more candle (a copy of the last, a minute later) so paper market orders fill."""
    last = node.market.candles["BTC/USDT"]
    nxt = replace(last, ts=last.ts + 60_000)
    node.clock.advance_to(nxt.close_ts)
    node.market.on_candle(nxt)
    node.portfolio.marks["BTC/USDT"] = nxt.close
    node.venues["paper"].on_candle(nxt)


async def resting_buy(node: TradingNode, strategy_id: str = "manual") -> str:
    """Place a limit buy 0.5% under the mid that will not fill; return its client order id."""
    mid = node.market.mid("BTC/USDT")
    assert mid is not None
    price = (mid * Decimal("0.995")).quantize(Decimal("0.01"))
    result = await node.submit(
        OrderIntent(strategy_id, "paper", "BTC/USDT", Side.BUY, Decimal("0.0004"),
                    OrderType.LIMIT, price, signal={"why": "resting test order"})
    )  # fmt: skip
    assert result.ok and result.order is not None, result.reason
    return result.order.client_order_id
