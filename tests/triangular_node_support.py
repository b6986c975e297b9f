"""Configs and a vault for trading nodes that run the `triangular` strategy kind.

Holds no tests; `test_triangular_node*.py` and `test_triangular_run_cli.py` import it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeguard.config import Config
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
