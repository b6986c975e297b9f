"""Builders for the bot tests: a replayed paper node with one registered bot, quotes that move."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from test_api_support import build_app, client, replayed_node
from tradeguard.api.auth import Role, TokenStore
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.spec import BotSpec
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.storage.bot_rows import BotRows

SYMBOL = "BTC/USDT"
ALPHA = {
    "max_order_usd": "60",
    "max_position_usd": "100",
    "daily_loss_usd": "40",
    "symbols": [SYMBOL],
    "confirmation_ttl_s": 30,
    "sizing": {"kind": "linear", "min_score": "0.5", "max_score": "1", "min_usd": "20",
               "max_usd": "60"},
}  # fmt: skip


def add_bot(node: TradingNode, name: str, enabled: bool = True, **changes: Any) -> BotSpec:
    """Register a bot straight in the database (as `tradeguard bot add` does)."""
    spec = BotSpec.parse(name, {**ALPHA, **changes})
    BotRows(node.db).save_bot(name, enabled, spec.to_doc(), node.clock.now_ms())
    return spec


@dataclass
class BotRig:
    node: TradingNode
    http: httpx.AsyncClient
    trader: dict[str, str]
    alpha: dict[str, str]  # a token bound to bot alpha
    tokens: Any
    app: Any = None


async def rig(tmp_path: Path, data_dir: Path) -> BotRig:
    """A started, replayed paper node with bots alpha and beta and a token bound to alpha."""
    node = await replayed_node(tmp_path, data_dir)
    add_bot(node, "alpha")
    add_bot(node, "beta")
    app, tokens = build_app(node)
    _, alpha = TokenStore(node.db, node.storage).create("alpha-bot", Role.TRADER, bot="alpha")
    return BotRig(
        node, client(app), {"Authorization": f"Bearer {tokens.trader}"},
        {"Authorization": f"Bearer {alpha}"}, tokens, app,
    )  # fmt: skip


async def quote(node: TradingNode, mid: Decimal) -> None:
    """Feed a flat one-minute candle at `mid` (paper market orders fill on it), then a quote."""
    last = node.market.candles[SYMBOL]
    bar = replace(last, ts=last.ts + 60_000, open=mid, high=mid, low=mid, close=mid)
    node.clock.advance_to(bar.close_ts)
    node.market.on_candle(bar)
    node.portfolio.marks[SYMBOL] = mid
    node.venues["paper"].on_candle(bar)
    half = (mid * Decimal("0.0001")).quantize(Decimal("0.01"))
    await node.on_quote(Quote(SYMBOL, bar.close_ts, mid - half, Decimal(5), mid + half, Decimal(5)))


def mid(node: TradingNode) -> Decimal:
    value = node.market.mid(SYMBOL)
    assert value is not None
    return value.quantize(Decimal("0.01"))


def desk(node: TradingNode) -> BotDesk:
    return BotDesk.for_node(node)
