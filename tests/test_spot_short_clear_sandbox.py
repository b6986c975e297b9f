"""A database an older version left holding a spot short halts every start, naming the way out:
`tradeguard spot-short clear`, which reads the venue's balance (real ccxt against the sandbox on
127.0.0.1) and books it over the record only when the venue holds no short, as a recorded
balance adjustment and an audit event; after a resume the node starts ACTIVE, its ledger audit
clean. A venue that cannot be read, or a record that is not there, leaves everything as it is."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli_support import run_cli
from running_support import running, started_clean
from test_exchange_ledger_audit import _config
from tradeguard.config import Config
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.model.position import Position
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal


def _old_short(cfg: Config, ts: int) -> None:
    """What a spot sale of 1.05 BTC with 1 BTC held used to leave, through the storage layer."""
    db = Database(cfg.node.database_url)
    st = Storage(db)
    with st.transaction():
        st.insert_fill(
            Fill("binance", "BTC/USDT", "", "v1", "old-1", Side.SELL, D(50_000), D("1.05"),
                 D(0), "USDT", LiquiditySide.TAKER, ts),
            "s1",
        )  # fmt: skip
        st.save_position(
            Position("binance", "BTC/USDT", "s1", quantity=D("-1.05"), avg_entry=D(50_000))
        )
        st.upsert_balances(
            "binance",
            [Balance("binance", "USDT", D(152_500)), Balance("binance", "BTC", D("-0.05"))],
        )
    db.dispose()


def _set_venue(ex: SandboxExchange, **amounts: str) -> None:
    acc = ex.engine.accounts[ex.account_id(ALICE_KEY)]
    for asset, amount in amounts.items():
        acc.bal(asset).free = D(amount)


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command in this process, on a thread of its own (it runs its own event loop while
    the sandbox's runs on this one)."""
    done = await asyncio.wait_for(asyncio.to_thread(run_cli, capsys, *args), 120)
    return done.returncode, done.stdout, done.stderr


async def _clear(
    capsys: pytest.CaptureFixture[str], path: Path, *extra: str
) -> tuple[int, str, str]:
    return await _cli(capsys, "spot-short", "clear", "--config", str(path), *extra)


async def _start(cfg: Config) -> tuple[str, str, Any]:
    async with running(cfg) as node:
        return node.risk.state.value, node.risk.state_by or "", node.risk.state_reason


def _toml(tmp_path: Path, ex: SandboxExchange) -> tuple[Config, Path]:
    cfg = _config(tmp_path, ex)
    path = tmp_path / "tg.toml"
    path.write_text(
        f"""mode = "sandbox"
[node]
database_url = "{cfg.node.database_url}"
kill_sentinel = "{tmp_path / "tg.kill"}"
reconcile_interval_s = 3600
[reconcile]
balance_sync_interval_s = 0
call_attempts = 1
call_timeout_s = 2
[[venues]]
name = "binance"
kind = "ccxt"
exchange = "binance"
credentials = "alice"
rest_url = "{ex.rest_url}"
ws_url = "{ex.ws_url}"
symbols = ["BTC/USDT"]
[risk]
max_order_notional_usd = "1000"
min_order_notional_usd = "0"
""",
        encoding="utf-8",
    )
    from tradeguard.config import load_config

    return load_config(str(path)), path


@pytest.mark.usefixtures("vault_env")
async def test_spot_short_clear_books_the_venues_balance_only_when_the_venue_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        assert await _start(cfg) == ("ACTIVE", "", "")  # the ledger opens at 1 BTC, 100,000 USDT
        _old_short(cfg, int(time.time() * 1000))
        _set_venue(ex, BTC="0", USDT="152500")  # the sale happened on the venue; no coins left

        # A start whose reconciliation cannot read the venue keeps the stored short: halted by it
        ex.faults.latency_ms_by_endpoint = {"/api/v3/openOrders": 5000}
        state, by, reason = await _start(cfg)
        assert (state, by) == ("HALTED", "spot_short"), reason
        assert "balance binance BTC -0.05" in reason
        assert "tradeguard spot-short clear --venue binance --asset BTC" in reason
        # ... and the venue that cannot answer leaves the record as it is
        ex.faults.latency_ms_by_endpoint = {"/api/v3/account": 5000}
        code, out, err = await _clear(capsys, path, "--venue", "binance", "--asset", "BTC",
                                      "--reason", "bought back")  # fmt: skip
        assert code == 1 and "could not read the venue's balances" in err, (code, out, err)
        assert err.count("\n") == 1 and "Traceback" not in err
        ex.faults.latency_ms_by_endpoint = {}

        # Reconciled, the start takes the venue's 0 BTC: the ledger (-0.05) names the way out
        state, by, reason = await _start(cfg)
        assert (state, by) == ("HALTED", "ledger_audit"), reason
        assert "stored 0 != start 1.0 + fills -1.05" in reason
        assert "tradeguard spot-short clear --venue binance --asset BTC" in reason
        db = Database(cfg.node.database_url)
        st = Storage(db)
        assert {b.asset: b.total for b in st.load_balances("binance")}["BTC"] == 0

        _set_venue(ex, BTC="0.1")  # the operator puts coins back on the venue
        code, out, err = await _clear(capsys, path, "--venue", "binance", "--asset", "BTC",
                                      "--reason", "deposited 0.1 BTC", "--json")  # fmt: skip
        assert code == 0, err
        done = json.loads(out)
        assert (done["ledger"], done["venue_total"], done["adjustment"]) == (
            "-0.05",
            "0.1",
            "0.15",
        ), done
        assert done["trading_state"] == "HALTED"
        [adj] = st.load_balance_adjustments("binance")
        assert (adj["asset"], adj["difference"]) == ("BTC", D("0.15"))
        assert "deposited 0.1 BTC" in adj["reason"]
        [event] = [e for e in st.load_events() if e.kind == "ledger.spot_short_cleared"]
        assert event.venue == "binance" and event.data["venue_total"] == "0.1"
        db.dispose()

        code, out, err = await _clear(capsys, path, "--venue", "binance", "--asset", "BTC",
                                      "--reason", "again")  # fmt: skip
        assert code == 2 and "holds no spot short of it on binance" in err, (code, out, err)

        code, out, err = await _cli(
            capsys, "resume", "--config", str(path), "--reason", "spot short settled", "--yes"
        )
        assert code == 0, (out, err)
        async with started_clean(cfg):
            pass  # its reconciliation and ledger audit passed, trading ACTIVE
