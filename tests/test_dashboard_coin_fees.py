"""The dashboard's trades panel on a sandbox node (real ccxt client, real Chromium): a buy's fee
kept in the bought coin (Binance takes 0.1 % of 0.001 BTC: 0.000001 BTC) shows its digits,
never "0.0000 BTC", which reads as a trade that paid nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.async_api import expect

from bots_support import ALPHA
from dashboard_support import TALL, dashboard, require_chromium
from node_support import trading_live
from tradeguard.bots.spec import BotSpec
from tradeguard.config import Config
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.storage.bot_rows import BotRows


def _config(tmp_path: Path, rest_url: str, ws_url: str) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "risk": {"max_order_notional_usd": "500", "daily_loss_limit_usd": "5000"},
        "venues": [{"name": "binance", "kind": "ccxt", "exchange": "binance",
                    "credentials": "alice", "rest_url": rest_url, "ws_url": ws_url,
                    "symbols": ["BTC/USDT"]}],
        "strategies": [],
    })  # fmt: skip


@pytest.mark.usefixtures("vault_env")
async def test_a_fee_in_the_bought_coin_shows_its_digits(tmp_path) -> None:
    require_chromium()
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url))
        spec = BotSpec.parse("alpha", {**ALPHA, "venue": "binance"})  # the node streams its symbol
        BotRows(node.db).save_bot("alpha", True, spec.to_doc(), node.clock.now_ms())
        await node.start()
        async with trading_live(node, 60):
            await eventually(lambda: node.market.mid("BTC/USDT") is not None)
            buy = OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, Decimal("0.001"),
                              OrderType.MARKET)  # fmt: skip
            assert (await node.submit(buy)).ok
            await eventually(lambda: bool(node.storage.load_fills(limit=1)))
            fill = node.storage.load_fills(limit=1, newest_first=True)[0]
            assert (fill.fee, fill.fee_asset) == (Decimal("0.000001"), "BTC"), fill
            async with dashboard(node, TALL) as board:
                await board.log_in(board.tokens.viewer)
                row = board.page.locator("#trades tbody tr").first
                await expect(row).to_contain_text("BTC/USDT")
                await expect(row.locator("td").nth(6)).to_have_text("0.000001 BTC")
