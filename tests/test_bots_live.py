"""Bots on a live (sandbox) node without the API: the node streams the symbols its bots trade,
picks up a symbol a bot takes while running, and its exit rules close positions on the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bots_support import ALPHA
from node_support import trading_live
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.spec import BotSpec
from tradeguard.config import Config
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.storage.bot_rows import BotRows

KEY = ("binance", "BTC/USDT", "alpha")


def _config(tmp_path: Path, rest_url: str, ws_url: str) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "risk": {"max_order_notional_usd": "500", "max_orders_per_s": "50",
                 "daily_loss_limit_usd": "5000"},  # the account's 1 BTC moves 1,000 USD
        "venues": [{"name": "binance", "kind": "ccxt", "exchange": "binance",
                    "credentials": "alice", "rest_url": rest_url, "ws_url": ws_url,
                    "symbols": ["BTC/USDT", "ETH/USDT"]}],
        "strategies": [],
    })  # fmt: skip


def _add_bot(node: TradingNode, name: str, symbol: str) -> None:
    spec = BotSpec.parse(name, {**ALPHA, "venue": "binance", "symbols": [symbol]})
    BotRows(node.db).save_bot(name, True, spec.to_doc(), node.clock.now_ms())


@pytest.mark.usefixtures("vault_env")
async def test_a_bot_only_symbol_is_streamed_and_its_stop_closes_the_position(tmp_path) -> None:
    ex = seeded_exchange()
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("2999", "5")], asks=[("3001", "5")])
    async with ex:
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url))
        _add_bot(node, "alpha", "BTC/USDT")
        await node.start()
        async with trading_live(node, 30):
            # no strategy trades BTC/USDT: only the bot makes the node stream it
            await eventually(lambda: node.market.mid("BTC/USDT") == Decimal(50000))
            desk = BotDesk.for_node(node)
            ask = {"symbol": "BTC/USDT", "side": "buy", "score": "0.5"}
            conf = desk.validate("alpha", ask)["confirmation_id"]
            trade = await desk.execute(
                "alpha", {**ask, "confirmation_id": conf, "stop_loss_pct": "1"}, by="test"
            )
            assert trade["status"] == "submitted", trade
            await eventually(lambda: KEY in node.portfolio.positions
                             and node.portfolio.positions[KEY].quantity > 0)  # fmt: skip
            ex.set_book("BTCUSDT", bids=[("49000", "5")], asks=[("49010", "5")])  # -2 %
            await eventually(lambda: node.portfolio.positions[KEY].quantity == 0, timeout_s=15)
            [exit_order] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
            assert exit_order.signal["exit"] == "stop_loss" and exit_order.reduce_only
            ex.set_book("BTCUSDT", bids=[("48990", "5")], asks=[("49000", "5")])
            await eventually(lambda: node.bot_exits.plans == {})  # gone at the next price

            _add_bot(node, "beta", "ETH/USDT")  # registered while the node runs
            await eventually(lambda: node.market.mid("ETH/USDT") == Decimal(3000))
