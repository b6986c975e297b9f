"""A node in sandbox mode against an in-process sandbox that replays a slice of real BTC candles."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeguard.config import Config
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange
from tradeguard.secrets.vault import ScryptParams, Vault

PASSPHRASE = "correct horse battery staple"
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BTC = DATA / "candles" / "BTC-PERP_1m_20211231-20220201.csv"

# Limits wide enough for a demo strategy trading every few replayed minutes.
RISK = {
    "max_order_notional_usd": "1000",
    "min_order_notional_usd": "0",
    "price_band_pct": "10",
    "market_slippage_cap_pct": "5",
    "min_account_balance_usd": "0",
    "stable_reserve_pct": "0",
    "max_trades_per_day": 10_000,
    "max_orders_per_s": "50",
    "cooldown_after_loss_s": 0,
    "max_consecutive_losses": 1000,
    "daily_loss_limit_usd": "5000",
    "weekly_loss_limit_usd": "5000",
}


def btc_slice(tmp_path: Path, rows: int) -> Path:
    """The header and first `rows` candles of the real BTC file, or skip without the data."""
    if not BTC.exists():
        pytest.skip(f"shared market data missing: {BTC}")
    out = tmp_path / "btc.csv"
    out.write_text("\n".join(BTC.read_text().splitlines()[: rows + 1]) + "\n")
    return out


def replaying_sandbox(path: Path, speed: int, history: int) -> SandboxExchange:
    """An unstarted sandbox replaying `path` as BTC/USDT, Alice funded with USDT."""
    config = SandboxConfig(
        replay=[f"{path}:BTC/USDT"], replay_speed=Decimal(speed), replay_history_bars=history
    )
    ex = SandboxExchange(config)
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal("100000")})
    return ex


def write_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("alice", "binance", {"api_key": ALICE_KEY, "secret": ALICE_SECRET})
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)


def sandbox_config(
    tmp_path: Path, ex: SandboxExchange, strategies: list[dict[str, Any]], **node: Any
) -> Config:
    return Config.model_validate(
        {
            "mode": "sandbox",
            "node": {
                "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                "kill_sentinel": str(tmp_path / "tg.kill"),
                "reconcile_interval_s": 3600,
                **node,
            },
            "reconcile": {"balance_sync_interval_s": 0},
            "risk": RISK,
            "venues": [
                {
                    "name": "binance",
                    "kind": "ccxt",
                    "exchange": "binance",
                    "credentials": "alice",
                    "rest_url": ex.rest_url,
                    "ws_url": ex.ws_url,
                    "symbols": ["BTC/USDT"],
                }
            ],
            "strategies": strategies,
        }
    )


def sandbox_toml(tmp_path: Path, ex: SandboxExchange, **node: float) -> Path:
    """Write tmp/sandbox.toml: `tradeguard run` on `ex` as alice (BTC/USDT, no strategy, the
    database tmp/tg.db); `node` adds [node] settings."""
    extra = "".join(f"{key} = {value}\n" for key, value in node.items())
    path = tmp_path / "sandbox.toml"
    path.write_text(f"""
mode = "sandbox"
strategies = []
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
kill_sentinel = "{tmp_path / "tg.kill"}"
{extra}[reconcile]
balance_sync_interval_s = 0
[[venues]]
name = "binance"
kind = "ccxt"
exchange = "binance"
credentials = "alice"
rest_url = "{ex.rest_url}"
ws_url = "{ex.ws_url}"
symbols = ["BTC/USDT"]
""")
    return path


def two_symbol_sandbox() -> SandboxExchange:
    """The seeded sandbox (BTCUSDT around 50,000) with ETHUSDT around 3,000 as well."""
    ex = seeded_exchange()
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("2999", "5")], asks=[("3001", "5")])
    return ex


async def move_books(ex: SandboxExchange, every_s: float = 0.1) -> None:
    """Move both symbols' best bid and ask by one tick, back and forth, until cancelled."""
    step = 0
    while True:
        step += 1
        tick = step % 2
        ex.set_book("BTCUSDT", bids=[(str(49_999 - tick), "1")], asks=[(str(50_001 + tick), "1")])
        ex.set_book("ETHUSDT", bids=[(str(2_999 - tick), "5")], asks=[(str(3_001 + tick), "5")])
        await asyncio.sleep(every_s)
