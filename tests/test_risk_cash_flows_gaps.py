"""The loss limits' baselines hold: the risk state a run changed is stored by a normal stop
(`stop()` then `close()`) with no other commit after it, so a restart on the same day keeps the
day's opening equity; a deposit the periodic reconciliation finds (no balance sync) moves them
as one the balance sync finds does, so it hides no trading loss. Real ccxt against the sandbox
exchange on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from node_support import trading_live
from test_node_balance_sync import _config
from test_spot_short_clear_sandbox import _toml
from tradeguard.model.enums import TradingState
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange

D = Decimal


async def _quote(node: TradingNode, mid: int) -> None:
    q = Quote("BTC/USDT", node.clock.now_ms(), D(mid - 1), D(1), D(mid + 1), D(1))
    await node.on_quote(q)


@pytest.mark.usefixtures("vault_env")
async def test_a_normal_stop_stores_the_days_opening_equity(tmp_path: Path) -> None:
    async with seeded_exchange() as ex:
        cfg, _path = _toml(tmp_path, ex)
        node = TradingNode(cfg)
        try:
            await node.start()
            await _quote(node, 50_000)  # the day opens at 100,000 USDT + 1 BTC = 150,000
            assert node.risk.day_start_equity == D(150_000)
        finally:
            await node.stop()
            node.close()
        node = TradingNode(cfg)
        try:
            await node.start()
            risk = node.risk
            # the day opened before the stop, not at the restart's equity: a loss taken
            # before a stop still counts toward the day's limit after it
            assert (risk.day_start_equity, risk.peak_equity) == (D(150_000), D(150_000))
            assert risk.day == node.clock.now_ms() // 86_400_000
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_the_periodic_reconciliation_finds_hides_no_loss(tmp_path: Path) -> None:
    async with seeded_exchange() as ex, httpx.AsyncClient(base_url=ex.base_url) as http:
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0)  # no balance sync
        cfg.node.reconcile_interval_s = 0.1
        node = TradingNode(cfg)
        await node.start()
        risk = node.risk
        async with trading_live(node, duration_s=30):
            await _quote(node, 50_000)
            assert risk.day_start_equity == D(150_000)
            deposit = {"api_key": ALICE_KEY, "secret": ALICE_SECRET, "balances": {"USDT": "250"}}
            assert (await http.post("/admin/accounts", json=deposit)).status_code == 200
            await eventually(lambda: node.portfolio.book("binance").total("USDT") == D(100_250))
            # the baselines rise with it: the day's loss is still measured from trading only
            await eventually(lambda: risk.day_start_equity == D(150_250))
            assert (risk.week_start_equity, risk.peak_equity) == (D(150_250), D(150_250))
            await _quote(node, 50_000)
            assert risk.state is TradingState.ACTIVE, risk.state_reason
