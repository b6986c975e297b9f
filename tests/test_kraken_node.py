"""A node trading on the Binance and Kraken sandboxes at once, through the real ccxt clients on
127.0.0.1: orders journaled and filled, balances synced and combined, and a SIGKILL after a
Kraken order was sent reconciled once at the next start."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from live_support import PASSPHRASE, RISK
from rigs import killed_child
from running_support import started_clean
from tradeguard.cli import main
from tradeguard.config import Config
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Quote, Side
from tradeguard.model.enums import TimeInForce
from tradeguard.node import TradingNode
from tradeguard.sandbox.kraken.server import KrakenSandbox
from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET, seeded_kraken
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange
from tradeguard.secrets.vault import ScryptParams, Vault

CHILD = Path(__file__).with_name("kraken_crash_child.py")
D = Decimal


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A vault with alice's Binance sandbox key and carol's Kraken sandbox key."""
    v = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    v.create(PASSPHRASE)
    v.add("alice", "binance", {"api_key": ALICE_KEY, "secret": ALICE_SECRET})
    v.add("carol", "kraken", {"api_key": CAROL_KEY, "secret": CAROL_SECRET})
    v.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
    yield


def _kraken_venue(kx: KrakenSandbox) -> dict[str, Any]:
    return {
        "name": "kraken", "kind": "ccxt", "exchange": "kraken", "credentials": "carol",
        "rest_url": kx.base_url, "symbols": ["BTC/USD"],
    }  # fmt: skip


def _config(
    tmp_path: Path,
    venues: list[dict[str, Any]],
    sync_s: int = 0,
    strategies: list[dict[str, Any]] | None = None,
) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {
            "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
            "kill_sentinel": str(tmp_path / "tg.kill"),
            "reconcile_interval_s": 3600,
        },
        "reconcile": {"balance_sync_interval_s": sync_s},
        "venues": venues,
        "strategies": strategies or [],
        "risk": RISK,
    })  # fmt: skip


def _totals(ex: SandboxExchange, key: str) -> dict[str, Decimal]:
    return {a: f + lk for a, (f, lk) in ex.balances(key).items() if f + lk}


async def _synced(sync: Any) -> list[Any]:
    """Sync until no venue is skipped (an order that just changed holds a venue back 2 s)."""
    deadline = time.monotonic() + 60
    while True:
        found = await sync.sync_once()
        if not sync.skipped:
            return list(found)
        assert time.monotonic() < deadline, sync.waiting
        await asyncio.sleep(0.2)


def _buy(venue: str, symbol: str) -> OrderIntent:
    return OrderIntent(
        strategy_id="s1", venue=venue, symbol=symbol, side=Side.BUY, amount=D("0.002"),
        type=OrderType.LIMIT, price=D("50010"), time_in_force=TimeInForce.IOC,
    )  # fmt: skip


@pytest.mark.usefixtures("vault")
async def test_node_trades_binance_and_kraken_at_once_and_combined_balances_add_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with seeded_exchange() as bx, seeded_kraken() as kx:
        binance = {
            "name": "binance", "kind": "ccxt", "exchange": "binance", "credentials": "alice",
            "rest_url": bx.rest_url, "ws_url": bx.ws_url, "symbols": ["BTC/USDT"],
        }  # fmt: skip
        cfg = _config(tmp_path, [binance, _kraken_venue(kx)], sync_s=3600)
        node = TradingNode(cfg)
        await node.start()
        try:
            assert node.reconcile_report.ok, node.reconcile_report.reason
            now = node.clock.now_ms()
            # each venue's own quote: a venue holding coins without quotes of its own leaves
            # equity provisional, and entries wait for them (docs/live_data.md)
            for venue, symbol in (("binance", "BTC/USDT"), ("kraken", "BTC/USD")):
                quote = Quote(symbol, now, D("49999"), D(1), D("50001"), D(1), venue=venue)
                await node.on_quote(quote)
            for venue, symbol in (("binance", "BTC/USDT"), ("kraken", "BTC/USD")):
                result = await node.submit(_buy(venue, symbol))
                assert result.status == "submitted", result
            await eventually(
                lambda: all(o.status is OrderStatus.FILLED for o in node.storage.load_orders()),
                timeout_s=60,
            )
            [kraken_order] = node.storage.load_orders(venue="kraken")
            assert kraken_order.filled == D("0.002") and kraken_order.venue_order_id
            [fill] = node.storage.load_fills(venue="kraken")
            assert (fill.price, fill.fee, fill.fee_asset) == (D("50001"), D("0.2600052"), "USD")
            sync = node.balance_sync()
            assert sync is not None
            assert await _synced(sync) == []  # ledger and venues agree: no discrepancy
            for venue, ex, key in (("binance", bx, ALICE_KEY), ("kraken", kx, CAROL_KEY)):
                stored = {b.asset: b.total for b in node.storage.load_balances(venue)}
                assert {a: q for a, q in stored.items() if q} == _totals(ex, key)
        finally:
            await node.stop()
            node.close()
        url = cfg.node.database_url
        capsys.readouterr()
        assert main(["balances", "--combined", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    btc = next(a for a in doc["assets"] if a["asset"] == "BTC")
    assert D(btc["venues"]["kraken"]) == _totals(kx, CAROL_KEY)["BTC"] == D("1.002")
    assert D(btc["venues"]["binance"]) == _totals(bx, ALICE_KEY)["BTC"]
    assert D(btc["total"]) == D(btc["venues"]["kraken"]) + D(btc["venues"]["binance"])
    usd = next(a for a in doc["assets"] if a["asset"] == "USD")
    assert D(usd["venues"]["kraken"]) == D("100000") - D("100.002") - D("0.2600052")


@pytest.mark.usefixtures("vault")
async def test_sigkill_after_a_kraken_order_was_sent_is_reconciled_once_at_restart(
    tmp_path: Path,
) -> None:
    async with seeded_kraken() as kx:
        cfg = _config(tmp_path, [_kraken_venue(kx)])
        await killed_child(CHILD, tmp_path, cfg, timeout_s=90)
        trades = kx.engine.trades["BTCUSD"]
        assert len(trades) == 1  # the venue executed the order; the node never heard of it
        for _restart in range(2):
            async with started_clean(cfg) as node:
                fills = node.storage.load_fills(venue="kraken")
                assert [f.trade_id for f in fills] == ["TSBX-00000001"]
                [order] = node.storage.load_orders(venue="kraken")
                assert (order.status, order.filled) == (OrderStatus.FILLED, D("0.002"))
                stored = {b.asset: b.total for b in node.storage.load_balances("kraken")}
                assert {a: q for a, q in stored.items() if q} == _totals(kx, CAROL_KEY)
                assert node.storage.load_balance_adjustments("kraken") == []


@pytest.mark.usefixtures("vault")
async def test_a_triangular_strategy_sizes_legs_for_where_each_venue_charges_a_buys_fee(
    tmp_path: Path,
) -> None:
    # Kraken charges a buy's fee in the quote spent, Binance in the base received: a middle
    # buy sized as on Binance spent more than the leg before it received on Kraken (0.01666
    # ETH received, 0.01666808 ETH spent), taking coins the account held from elsewhere.
    async with seeded_exchange() as bx, seeded_kraken() as kx:
        binance = {
            "name": "binance", "kind": "ccxt", "exchange": "binance", "credentials": "alice",
            "rest_url": bx.rest_url, "ws_url": bx.ws_url, "symbols": ["BTC/USDT"],
        }  # fmt: skip
        tri = [
            {"id": "tri-k", "kind": "triangular", "venue": "kraken"},
            {"id": "tri-b", "kind": "triangular", "venue": "binance"},
        ]
        cfg = _config(tmp_path, [binance, _kraken_venue(kx)], sync_s=3600, strategies=tri)
        node = TradingNode(cfg)
        await node.start()
        try:
            fees = {s.id: s.exec_config.fees_charged_in for s in node.strategies}
        finally:
            await node.stop()
            node.close()
    assert fees == {"tri-k": "quote", "tri-b": "received"}
