"""A loss limit below an ordinary day's move of the account's holdings is named at start.

The sandbox's demo account holds 2 BTC and 50 ETH besides its USDT: with the built-in
`daily_loss_limit_usd = 250` the random walk of those coins alone halted a fresh node within a
minute, and nothing said why until `tradeguard status`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rigs import sandbox_process
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.limit_fit import loss_limit_warnings

EXE = Path(sys.executable).parent / "tradeguard"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    keys = tmp_path / "keys.json"
    with sandbox_process("--keys-file", str(keys)) as rest_url:
        env = {**os.environ, "TG_VAULT_PATH": str(tmp_path / "vault.json"),
               "TG_MASTER_PASSPHRASE": PASSPHRASE}  # fmt: skip
        add = [str(EXE), "keys", "add", "sandbox-main", "--venue", "binance", "--stdin"]
        subprocess.run(add, stdin=keys.open(), env=env, check=True, capture_output=True)
        yield rest_url, env


def _run(tmp_path: Path, rest_url: str, env: dict[str, str], risk: str) -> str:
    port = rest_url.rsplit(":", 1)[1]
    cfg = tmp_path / "first.toml"
    cfg.write_text(f"""mode = "sandbox"
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[[venues]]
name = "binance"
kind = "ccxt"
exchange = "binance"
credentials = "sandbox-main"
rest_url = "{rest_url}"
ws_url = "ws://127.0.0.1:{port}/ws"
symbols = ["BTC/USDT"]
{risk}
""")
    done = subprocess.run(
        [str(EXE), "run", "--config", str(cfg), "--duration", "3"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_the_built_in_limits_on_the_demo_account_are_named_at_start(
    tmp_path: Path, sandbox: tuple[str, dict[str, str]]
) -> None:
    err = _run(tmp_path, *sandbox, risk="")
    daily = [line for line in err.splitlines() if "risk.daily_loss_limit_usd = 250 " in line]
    assert len(daily) == 1, err
    assert "allows a daily loss of 250.00 USD, less than a 3% move" in daily[0]
    assert "halts until the next UTC day" in daily[0]
    weekly = [line for line in err.splitlines() if "risk.weekly_loss_limit_usd = 750 " in line]
    assert len(weekly) == 1 and "denies new entries" in weekly[0], err


def test_limits_sized_for_the_account_start_without_a_warning(
    tmp_path: Path, sandbox: tuple[str, dict[str, str]]
) -> None:
    risk = (
        '[risk]\ndaily_loss_limit_usd = "30000"\ndaily_loss_limit_pct = "10"\n'
        'weekly_loss_limit_usd = "60000"\nweekly_loss_limit_pct = "20"\n'
    )
    err = _run(tmp_path, *sandbox, risk=risk)
    assert "allows a daily loss" not in err and "allows a weekly loss" not in err, err


def test_the_percentage_limit_is_named_when_it_is_the_lower() -> None:
    config = RiskConfig(daily_loss_limit_usd=None, daily_loss_limit_pct=Decimal(1))
    equity, held = Decimal(100_000), Decimal(90_000)  # 3% of it: 2,700 > 1% of 100,000
    out = loss_limit_warnings(
        config, equity, held, "USD", lambda e: e / 100, lambda e: None, lambda usd: usd
    )
    assert out and out[0].startswith("risk.daily_loss_limit_pct = 1 allows a daily loss of")
    assert "(at least 2,700.00 USD)" in out[0]
    none_held = loss_limit_warnings(
        config, equity, Decimal(0), "USD", lambda e: e / 100, lambda e: None, lambda usd: usd
    )
    assert none_held == []


def test_the_warning_names_what_it_counted_as_held() -> None:
    # Valued in BTC, stablecoins are counted (their BTC value moves with BTC's USD price):
    # the warning must not say they were left out.
    config = RiskConfig(daily_loss_limit_usd=None, daily_loss_limit_pct=Decimal(1))
    btc = loss_limit_warnings(
        config, Decimal(14), Decimal(12), "BTC", lambda e: e / 100, lambda e: None, lambda u: u
    )
    assert len(btc) == 1 and "of the 12.00 BTC held in other assets than BTC" in btc[0]
    assert "stablecoin" in btc[0] and "outside stablecoins" not in btc[0]
    usd = loss_limit_warnings(
        config, Decimal(100_000), Decimal(90_000), "USD", lambda e: e / 100, lambda e: None,
        lambda u: u,
    )  # fmt: skip
    assert "held in other assets than USD and stablecoins" in usd[0]
