"""Money moved in or out of an account from outside is no trading profit or loss for the loss
limits and the drawdown: a declared transfer moves their baselines both ways, a deposit the
balance sync finds raises them, a decrease no one explained still counts as a loss (and says how
to declare a known withdrawal); the move survives a restart and is counted once, SIGKILL after
the booking included. Real ccxt against the sandbox exchange on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cash_flow_support import _cli
from node_support import trading_live
from test_node_balance_sync import _watched_node
from test_spot_short_clear_sandbox import _start, _toml
from tradeguard.model.enums import TradingState
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import CASH_FLOW_EVENT
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange

D = Decimal
CHILD = Path(__file__).with_name("cash_flow_crash_child.py")


async def _marked(node: TradingNode) -> None:
    """Feed BTC/USDT at 49,999 / 50,001: equity 100,000 USDT + 1 BTC = 150,000."""
    await node.on_quote(Quote("BTC/USDT", node.clock.now_ms(), D(49_999), D(1), D(50_001), D(1)))


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_the_sync_finds_hides_no_loss_and_a_decrease_still_halts(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex, httpx.AsyncClient(base_url=ex.base_url) as http:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        risk = node.risk
        async with trading_live(node, duration_s=30):
            await _marked(node)
            assert (risk.day_start_equity, risk.peak_equity) == (D(150_000), D(150_000))
            deposit = {"api_key": ALICE_KEY, "secret": ALICE_SECRET, "balances": {"USDT": "250"}}
            assert (await http.post("/admin/accounts", json=deposit)).status_code == 200
            # the baselines rise with it: the day's loss is still measured from trading only
            await eventually(lambda: risk.day_start_equity == D(150_250))
            assert (risk.week_start_equity, risk.peak_equity) == (D(150_250), D(150_250))
            await _marked(node)
            assert risk.state is TradingState.ACTIVE, risk.state_reason
            # 300 gone with no transfer declared: a loss beyond the 250 limit, the deposit
            # before it hiding none of it
            out = await http.post(
                "/admin/withdraw", json={"api_key": ALICE_KEY, "balances": {"USDT": "300"}}
            )
            assert out.status_code == 200, out.text
            await eventually(lambda: node.portfolio.book("binance").total("USDT") == D(99_950))
            assert risk.day_start_equity == D(150_250)  # a decrease moves no baseline
            await _marked(node)
            assert risk.state is TradingState.HALTED
            assert risk.state_by == "breaker:daily_loss", risk.state_reason
        flows = [e for e in events if e.kind == CASH_FLOW_EVENT]
        assert [(D(e.data["amount"]), D(e.data["moved"]), e.severity) for e in flows] == [
            (D(250), D(250), "warning"),
            (D(-300), D(0), "critical"),
        ]
        why = flows[1].data["reason"]
        assert "counted as a loss" in why, why
        assert "tradeguard transfer --venue binance --asset USDT --amount -300" in why, why


@pytest.mark.usefixtures("vault_env")
async def test_a_declared_withdrawal_moves_the_baselines_and_does_not_halt(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        node = TradingNode(cfg)
        try:
            await node.start()
            await _marked(node)  # the day opens at 150,000
            assert node.risk.day_start_equity == D(150_000)
            with node.storage.transaction():
                pass  # a commit, as a live loop's next one, writes the risk state
        finally:
            await node.stop()
            node.close()
        acc = ex.engine.accounts[ex.account_id(ALICE_KEY)]
        acc.bal("USDT").free -= D(1000)  # withdrawn while no node runs
        state, by, _ = await _start(cfg)
        assert (state, by) == ("HALTED", "ledger_audit")
        base = ["--config", str(path)]
        code, _out, err = await _cli("transfer", *base, "--venue", "binance", "--asset", "USDT",
                                    "--amount", "-1000", "--reason", "to the bank")  # fmt: skip
        assert code == 0, err
        code, _, err = await _cli("resume", *base, "--reason", "booked", "--yes")
        assert code == 0, err
        for _restart in range(2):  # moved once, whatever the number of starts
            node = TradingNode(cfg)
            try:
                await node.start()
                risk = node.risk
                await _marked(node)  # equity 149,000: the 1,000 declared is no loss
                assert risk.state is TradingState.ACTIVE, risk.state_reason
                assert risk.daily_loss_halt_day is None
                assert (risk.day_start_equity, risk.peak_equity) == (D(149_000), D(149_000))
            finally:
                await node.stop()
                node.close()


def _sync_toml(tmp_path: Path, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("balance_sync_interval_s = 0", "balance_sync_interval_s = 0.05"))


async def deposit_then_sigkill(ex: SandboxExchange, tmp_path: Path, path: Path, *how: str) -> None:
    """Run the crash child on the config at `path` (balance sync on), deposit 250 USDT once it
    is ready, and see it SIGKILL itself (`how`: its argv after the config)."""
    _sync_toml(tmp_path, path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(path), *how,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.strip() == b"ready", (line, await proc.stderr.read())  # type: ignore[union-attr]
    ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": D(250)})
    await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_booked_just_before_a_sigkill_moves_the_baselines_once(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        await deposit_then_sigkill(ex, tmp_path, path)
        for _restart in range(2):
            node = TradingNode(cfg)
            try:
                assert [a["difference"] for a in node.storage.load_balance_adjustments()] == [
                    D(250)
                ]
                await node.start()
                risk = node.risk
                assert (risk.day_start_equity, risk.peak_equity) == (D(150_250), D(150_250))
            finally:
                await node.stop()
                node.close()
