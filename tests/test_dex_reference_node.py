"""`venues.dex.reference_marks` in a whole node built from its config: the local chain's real
Uniswap V2 contracts over JSON-RPC for the DEX venue, the sandbox exchange (read with the real
ccxt client) for the reference. The check belongs to the swap, not to what asked for it: a
market order sent to the node for a pool no strategy trades, whose reference market the node
does not stream, is held to the mark too; a pushed pool is refused (`POOL_PRICE`, nothing
signed), a fair one trades."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dex_support import ChainThread, running_chain
from live_support import PASSPHRASE, RISK
from running_support import running
from test_dex_pool_guard import _push
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET
from tradeguard.secrets.vault import ScryptParams, Vault

D = Decimal


@pytest.fixture
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _config(tmp_path: Path, chain: ChainThread, ex: SandboxExchange, monkeypatch: Any) -> Config:
    """A sandbox node: DEX venue `dex` (WETH/USD held to `cex`'s ETH/USDT) and venue `cex`,
    which streams BTC/USDT only; no strategy. Keys from a vault, as `run` takes them."""
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("alice", "binance", {"api_key": ALICE_KEY, "secret": ALICE_SECRET})
    vault.add("dex-demo", "uniswap_v2", {"private_key": chain.deployment.wallet_private_key})
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    chain.deployment.write(tmp_path / "chain.json")
    dex = {
        "deployment_file": str(tmp_path / "chain.json"), "slippage_bps": 50,
        "max_fee_per_gas_gwei": "100", "max_tx_value": "10000", "quote_poll_s": 0.2,
        "twap_window_s": 10, "reference_marks": {"WETH/USD": "cex:ETH/USDT"},
    }  # fmt: skip
    venues = [
        {"name": "dex", "kind": "uniswap_v2", "credentials": "dex-demo",
         "symbols": ["WETH/USD"], "dex": dex},
        {"name": "cex", "kind": "ccxt", "exchange": "binance", "credentials": "alice",
         "rest_url": ex.rest_url, "ws_url": ex.ws_url, "symbols": ["BTC/USDT"]},
    ]  # fmt: skip
    return Config.model_validate(
        {
            "mode": "sandbox",
            "node": {
                "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                "kill_sentinel": str(tmp_path / "tg.kill"),
                "reconcile_interval_s": 3600,
                "valuation_asset": "USD",
            },
            "reconcile": {"balance_sync_interval_s": 0},
            "risk": RISK,
            "venues": venues,
            "strategies": [],
        }
    )


def _sell() -> OrderIntent:
    return OrderIntent("manual", "dex", "WETH/USD", Side.SELL, D("0.1"), OrderType.MARKET)


async def test_a_node_holds_a_swap_nothing_watches_to_the_reference_mark(
    tmp_path: Path, chain: ChainThread, ex: SandboxExchange, monkeypatch: Any
) -> None:
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("1999", "5")], asks=[("2001", "5")])
    cfg = _config(tmp_path, chain, ex, monkeypatch)
    async with running(cfg) as node:
        assert not node.strategies and "ETH/USDT" not in node.config.venues[1].symbols
        # about -20 %: inside risk.max_mark_jump_pct (30), so the node's own mark follows it
        _push(chain, 118)
        chain.rpc("evm_mine", hex(300))  # ... held 30 windows: the pool's own mean follows it
        refused = await node.submit(_sell())
        assert (refused.status, refused.code) == ("rejected", "POOL_PRICE"), refused
        assert "% off the ETH/USDT mark of venue cex, 2000.000000 USDT" in refused.reason
        assert refused.order is not None
        store = node.venues["dex"].store
        assert store.for_order("dex", refused.order.client_order_id) == []  # nothing signed
        ex.set_book("ETHUSDT", bids=[("1595", "5")], asks=[("1605", "5")])  # the market too
        traded = await node.submit(_sell())
        assert traded.ok and traded.order is not None, traded
        assert traded.order.status is OrderStatus.FILLED, traded
        assert traded.order.filled == D("0.1")
