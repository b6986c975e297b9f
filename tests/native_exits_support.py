"""Builders for the native-exit tests: a sandbox node whose venue rests bots' exits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from bots_support import ALPHA
from node_support import trading_live
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.spec import BotSpec
from tradeguard.config import Config
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.storage.bot_rows import BotRows

KEY = "binance|BTC/USDT|alpha"
PASSPHRASE = "correct horse battery staple"


def native_config(tmp_path: Path, rest_url: str, ws_url: str, native: bool = True) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "risk": {"max_order_notional_usd": "500", "max_orders_per_s": "50",
                 "daily_loss_limit_usd": "5000"},
        "venues": [{"name": "binance", "kind": "ccxt", "exchange": "binance",
                    "credentials": "alice", "rest_url": rest_url, "ws_url": ws_url,
                    "symbols": ["BTC/USDT"], "native_exits": native}],
        "strategies": [],
    })  # fmt: skip


def add_alpha(node: TradingNode, **changes: Any) -> None:
    spec = BotSpec.parse("alpha", {**ALPHA, "venue": "binance", **changes})
    BotRows(node.db).save_bot("alpha", True, spec.to_doc(), node.clock.now_ms())


async def enter(node: TradingNode, **exits: str) -> dict[str, Any]:
    """Validate and execute one bot buy carrying exit rules."""
    desk = BotDesk.for_node(node)
    ask = {"symbol": "BTC/USDT", "side": "buy", "score": "0.5"}
    conf = desk.validate("alpha", ask)["confirmation_id"]
    return await desk.execute("alpha", {**ask, "confirmation_id": conf, **exits}, by="test")


def sandbox_lists(ex: SandboxExchange) -> list[list[str]]:
    """Every OCO list on the sandbox: the statuses of its two orders."""
    engine = ex.engine
    return [
        [engine.orders[o].status for o in lst.order_ids] for lst in engine.contingent.lists.values()
    ]


def bot_qty(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(("binance", "BTC/USDT", "alpha"))
    return Decimal(0) if pos is None else pos.quantity


def sellable_qty(node: TradingNode) -> Decimal:
    """What an exit can sell: the position (net of the buyer's fee the sandbox takes in BTC)
    rounded down to the lot step."""
    pos = node.portfolio.positions.get(("binance", "BTC/USDT", "alpha"))
    return Decimal(0) if pos is None else node.portfolio.sellable(pos)


@asynccontextmanager
async def live_alpha(
    tmp_path: Path, ex: SandboxExchange, native: bool = True, **changes: Any
) -> AsyncIterator[TradingNode]:
    """A node trading live on `ex` with bot alpha, once it sees the sandbox's 50,000 mid."""
    node = TradingNode(native_config(tmp_path, ex.rest_url, ex.ws_url, native))
    add_alpha(node, **changes)
    await node.start()
    async with trading_live(node):
        await eventually(lambda: node.market.mid("BTC/USDT") == Decimal(50000))
        yield node
