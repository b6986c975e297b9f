"""A stablecoin balance on a venue that lists no market for it counts at its peg.

The rehearsal account (2 BTC, 50 ETH, 100,000 USDT) on the local exchange listing only ETH/BTC,
valued in BTC: a node subprocess (real ccxt) must count the USDT at 1 USD a unit, in BTC at
`risk.valuation_asset_usd`, in its equity, its stored balance values and the risk engine's
peak; with `pegged_assets = {}` the USDT is worth nothing and listed as unpriced.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from test_token_unlock_live import KEY, SECRET, _env, _until
from tradeguard.node import FIGURES_KEY, RISK_STATE_KEY
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

USD_PER_BTC = Decimal(14000)
ACCOUNT = {"BTC": Decimal(2), "ETH": Decimal(50), "USDT": Decimal(100_000)}


def _toml(ex: SandboxExchange, db: Path, pegs: str) -> str:
    return f"""
mode = "sandbox"

[node]
database_url = "sqlite:///{db}"
kill_sentinel = "{db.parent / "tg.kill"}"
valuation_asset = "BTC"
log_level = "WARNING"
checkpoint_interval_s = 0.2
{pegs}

[[venues]]
name = "rehearsal"
kind = "ccxt"
exchange = "binance"
credentials = "rehearsal"
rest_url = "{ex.rest_url}"
ws_url = "{ex.ws_url}"
symbols = ["ETH/BTC"]

[[strategies]]                       # watches ETH/BTC; too slow to trade in this test
id = "watch"
kind = "ma_crossover"
venue = "rehearsal"
symbol = "ETH/BTC"
params = {{ fast = 500, slow = 1000, order_usd = "90" }}

[risk]
valuation_asset_usd = "{USD_PER_BTC}"
max_drawdown_pct = "10"
daily_loss_limit_pct = "5"
stale_data_s = 3600
"""


async def _cli(args: list[str], env: dict[str, str]) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def _figures(db: Path) -> dict[str, Any] | None:
    if not db.exists():
        return None
    storage = Storage(Database(f"sqlite:///{db}"))
    figures = storage.kv_get(FIGURES_KEY)
    risk = storage.kv_get(RISK_STATE_KEY)
    # ready once ETH is marked (equity above the BTC alone) and the risk engine saw equity
    if not figures or Decimal(figures["equity"]) <= ACCOUNT["BTC"] or not risk:
        return None
    return {"figures": figures, "risk": risk}


async def _run(tmp: Path, ex: SandboxExchange, pegs: str) -> dict[str, Any]:
    tmp.mkdir()
    db, conf = tmp / "tg.db", tmp / "node.toml"
    conf.write_text(_toml(ex, db, pegs))
    env = _env(tmp)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "run", "--config", str(conf), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=(tmp / "node.log").open("wb"),
    )  # fmt: skip
    try:
        try:
            await _until("figures", lambda: _figures(db), 40, proc)
        except AssertionError as e:
            storage = Storage(Database(f"sqlite:///{db}"))
            seen = (storage.kv_get(FIGURES_KEY), storage.kv_get(RISK_STATE_KEY))
            log = (tmp / "node.log").read_text()[-3000:]
            raise AssertionError(f"{e}\n{seen}\n{log}") from None
        await asyncio.sleep(1)  # a few more checkpoints: the peak and the balances follow
        got = _figures(db)
        assert got is not None
        cfg = ["--config", str(conf)]
        got["status"] = await _cli(["status", "--json", *cfg], env)
        got["combined"] = await _cli(["balances", "--combined", "--json", *cfg], env)
        got["eth_btc"] = ex.engine.last_price("ETHBTC")
        return got
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()


async def test_usdt_on_a_btc_only_venue_counts_at_its_peg(tmp_path: Path, data_dir: Path) -> None:
    ex = SandboxExchange(
        SandboxConfig(
            replay=[f"{data_dir / 'candles' / 'ETH_BTC-5m.feather'}:ETH/BTC"],
            # The slowest speed: after its first step the price holds for hours. At 1x a step
            # came every 75 s, and on a busy machine one could land between the node's figures
            # read here and the `status` read after them, which then differed.
            replay_speed=Decimal("0.01"),
            replay_history_bars=100,
        )
    )
    ex.add_account(KEY, SECRET, dict(ACCOUNT))
    await ex.start()
    try:
        pegged = await _run(tmp_path / "pegged", ex, "")
        bare = await _run(tmp_path / "bare", ex, "pegged_assets = {}")
    finally:
        await ex.stop()
    usdt_in_btc = ACCOUNT["USDT"] / USD_PER_BTC  # 7.142857... BTC
    for run, usdt in ((pegged, usdt_in_btc), (bare, Decimal(0))):
        eth = ACCOUNT["ETH"] * Decimal(run["eth_btc"])
        want = ACCOUNT["BTC"] + eth + usdt
        equity = Decimal(run["figures"]["equity"])
        # the ETH mark may move between the node's last checkpoint and the read here
        assert abs(equity - want) < Decimal("0.05"), (equity, want)
        assert Decimal(run["status"]["figures"]["equity"]) == equity
        assert Decimal(run["risk"]["peak_equity"]) >= equity - Decimal("0.05")
        assert abs(Decimal(run["risk"]["day_start_equity"]) - equity) < Decimal("0.05")
        view = run["combined"]
        values = {a["asset"]: a["value"] for a in view["assets"]}
        assert abs(Decimal(view["total_value"]) - equity) < Decimal("0.05")
        if usdt:
            assert Decimal(values["USDT"]) == ACCOUNT["USDT"] / USD_PER_BTC
            assert view["unpriced"] == []
        else:
            assert values["USDT"] is None and view["unpriced"] == ["USDT"]
    # the drawdown and daily-loss limits are measured on the whole account
    assert Decimal(pegged["figures"]["equity"]) - Decimal(bare["figures"]["equity"]) > 7
