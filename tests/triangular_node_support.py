"""Configs and a vault for trading nodes that run the `triangular` strategy kind.

Holds no tests; `test_triangular_node*.py`, `test_triangular_run_cli.py` and the arbitrage API,
dashboard and alert tests import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_triangular_exec_support import START_MS, small_universe
from tradeguard.clock import SimulatedClock
from tradeguard.config import Config
from tradeguard.model import Quote, dec
from tradeguard.node import TradingNode, build_node
from tradeguard.sandbox import SandboxConfig, SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET
from tradeguard.secrets.vault import ScryptParams, Vault

VENUE = "sbx"
CREDENTIALS = "alice"
PASSPHRASE = "triangular rehearsal passphrase"

# Real limits, opened where three small legs per cycle need room (see examples/).
ARB_RISK: dict[str, Any] = {
    "max_order_notional_usd": "100",
    "min_order_notional_usd": "0",
    "max_trades_per_day": 10_000,
    "max_orders_per_s": "50",
    "max_open_positions": 1000,
    "stable_reserve_pct": "0",
    "min_account_balance_usd": "0",
    "cooldown_after_loss_s": 0,
    "max_consecutive_losses": 1000,
    "price_band_pct": "5",
    "arb_max_cycle_notional_usd": "100",
}
ARB_PARAMS: dict[str, Any] = {
    "cooldown_s": 0.2,
    "exec": {"start_assets": ["USDT"], "max_size_usd": "40"},
}


# On the paper node: a burst of three orders per second. A cycle's three legs use it up, so a
# cycle a third of a second later gets its first leg out and has the second denied (ORDER_RATE):
# with `on_leg_failure = "hold"` it ends `held`, stranded in the first leg's asset.
RATE_LIMITED_RISK: dict[str, Any] = {"max_orders_per_s": "3"}
HOLD_PARAMS: dict[str, Any] = {
    "cooldown_s": 0.2,
    "exec": {"start_assets": ["USDT"], "max_size_usd": "500", "on_leg_failure": "hold"},
}
AFTER_BURST_MS = 334  # refills one order of the RATE_LIMITED_RISK burst, not two


def drifting_sandbox(seed: int = 5, **drift: Any) -> SandboxExchange:
    """Return an unstarted sandbox: a 30-market universe, drift on, alice holding 10,000 USDT."""
    settings = {"arb_drift_every_ms": 50, "arb_drift_hold_ms": 1500, **drift}
    ex = SandboxExchange(SandboxConfig(universe_markets=30, seed=seed, **settings))
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal(10_000)})
    return ex


def write_vault(tmp_path: Path) -> dict[str, str]:
    """Store alice's sandbox keys in a vault; return the environment that opens it."""
    path = tmp_path / "vault.json"
    vault = Vault(path, kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add(CREDENTIALS, "binance", {"api_key": ALICE_KEY, "secret": ALICE_SECRET})
    vault.lock()
    return {"TG_VAULT_PATH": str(path), "TG_MASTER_PASSPHRASE": PASSPHRASE}


def sandbox_config(
    tmp_path: Path,
    ex: SandboxExchange,
    *,
    params: dict[str, Any] | None = None,
    mode: str = "sandbox",
) -> dict[str, Any]:
    """Return config data: one ccxt venue on the sandbox, one triangular strategy."""
    return {
        "mode": mode,
        "node": {
            "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
            "kill_sentinel": str(tmp_path / "tg.kill"),
            "checkpoint_interval_s": 0.5,
            "kill_poll_interval_s": 0.1,
        },
        "data": [],
        "venues": [
            {
                "name": VENUE,
                "kind": "ccxt",
                "exchange": "binance",
                "credentials": CREDENTIALS,
                "rest_url": ex.rest_url,
                "ws_url": ex.ws_url,
            }
        ],
        "strategies": [
            {"id": "tri", "kind": "triangular", "venue": VENUE, "params": params or ARB_PARAMS}
        ],
        "risk": dict(ARB_RISK),
    }


def to_toml(data: dict[str, Any]) -> str:
    """Render config data as TOML (the subset these configs use)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            continue
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables:
        lines += ["", f"[{key}]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += ["", f"[[{key}]]", *(f"{k} = {_value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return f'"{v}"'


def node_config(data: dict[str, Any]) -> Config:
    """Validate config data."""
    return Config.model_validate(data)


def paper_arb_config(
    tmp_path: Path,
    params: dict[str, Any] | None = None,
    *,
    risk: dict[str, Any] | None = None,
    alerts: dict[str, Any] | None = None,
) -> Config:
    """Return a paper node config: the seeded small universe, one triangular strategy `tri`."""
    universe = small_universe()
    data: dict[str, Any] = {
        "mode": "paper",
        "node": {
            "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
            "kill_sentinel": str(tmp_path / "tg.kill"),
        },
        "data": [],
        "venues": [
            {
                "name": "paper",
                "kind": "paper",
                "balances": {"USDT": "100000"},
                "instruments": [
                    {
                        "symbol": m.symbol,
                        "price_tick": m.price_tick,
                        "amount_step": m.amount_step,
                        "min_amount": m.min_amount,
                        "min_notional": m.min_notional,
                        "maker_fee": m.taker_fee,
                        "taker_fee": m.taker_fee,
                    }
                    for m in universe.markets
                ],
            }
        ],
        "strategies": [
            {
                "id": "tri",
                "kind": "triangular",
                "venue": "paper",
                "params": params
                if params is not None
                else {"cooldown_s": 60, "exec": {"start_assets": ["USDT"]}},
            }
        ],
        "risk": {
            **ARB_RISK,
            "max_order_notional_usd": "1000",
            "arb_max_cycle_notional_usd": "1000",
            **(risk or {}),
        },
    }
    if alerts is not None:
        data["alerts"] = alerts
    return node_config(data)


async def started_paper_arb_node(config: Config) -> TradingNode:
    """Start a paper node on `config` at the universe's time, its strategies running."""
    node = build_node(config)
    await node.start()
    assert isinstance(node.clock, SimulatedClock)
    node.clock.advance_to(START_MS)
    node.start_strategies()
    return node


async def feed_universe_quotes(node: TradingNode, after_ms: int = 0) -> None:
    """Move the clock on by `after_ms`, quote every market, and wait for the cycle they start."""
    assert isinstance(node.clock, SimulatedClock)
    node.clock.advance_to(node.clock.now_ms() + after_ms)
    now = node.clock.now_ms()
    for symbol, t in small_universe().tickers.items():
        await node.on_quote(
            Quote(symbol, now, dec(t.bid), dec(t.bid_size), dec(t.ask), dec(t.ask_size))
        )
    runner = node.strategies[0].runner  # type: ignore[attr-defined]
    await runner.wait_idle()


@contextlib.contextmanager
def threaded_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, order_latency_ms: int = 0
) -> Iterator[SandboxExchange]:
    """A drifting sandbox served from its own thread and loop, so a CLI run on this one owns
    it, with the vault's variables set; each order answered after `order_latency_ms` if given."""
    for key, value in write_vault(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TG_CONFIRM_LIVE", raising=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ex = drifting_sandbox()
    if order_latency_ms:
        ex.faults.latency_ms_by_endpoint["/api/v3/order"] = order_latency_ms
    asyncio.run_coroutine_threadsafe(ex.start(), loop).result(10)
    try:
        yield ex
    finally:
        asyncio.run_coroutine_threadsafe(ex.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
