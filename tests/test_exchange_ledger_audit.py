"""The ledger audit on an exchange venue: real ccxt against the sandbox on 127.0.0.1.

A node SIGKILLed after the venue executed its order and before it recorded the fill restarts,
books the fill once (by venue trade id) and passes the audit against the venue's balances; a
fill counted twice halts it with the figures.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from rigs import killed_child
from running_support import running, started_clean
from tradeguard.config import Config
from tradeguard.model import OrderStatus, Side, TradingState
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide
from tradeguard.model.fill import Fill
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

CHILD = Path(__file__).with_name("ccxt_crash_child.py")


def _config(tmp_path: Path, ex: SandboxExchange) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {
            "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
            "kill_sentinel": str(tmp_path / "tg.kill"),
            "reconcile_interval_s": 3600,
        },
        "reconcile": {"balance_sync_interval_s": 0},
        "venues": [{
            "name": "binance", "kind": "ccxt", "exchange": "binance", "credentials": "alice",
            "rest_url": ex.rest_url, "ws_url": ex.ws_url, "symbols": ["BTC/USDT"],
        }],
        "strategies": [],
        "risk": {"max_order_notional_usd": "1000", "min_order_notional_usd": "0"},
    })  # fmt: skip


async def _crash_after_send(tmp_path: Path, cfg: Config) -> None:
    await killed_child(CHILD, tmp_path, cfg, timeout_s=90)


def _venue_totals(ex: SandboxExchange) -> dict[str, Decimal]:
    totals = {a: free + locked for a, (free, locked) in ex.balances(ALICE_KEY).items()}
    return {a: q for a, q in totals.items() if q}


@pytest.mark.usefixtures("vault_env")
async def test_fill_executed_before_a_sigkill_is_booked_once_and_the_audit_agrees_with_the_venue(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        ex.faults.update({"drop_execution_reports": 1})  # the user stream says nothing either
        await _crash_after_send(tmp_path, cfg)
        trades = ex.engine.trades["BTCUSDT"]
        assert len(trades) == 1  # the venue executed the order; the node never heard of it

        for _restart in range(2):
            async with started_clean(cfg) as node:
                fills = node.storage.load_fills(venue="binance")
                assert [f.trade_id for f in fills] == [str(trades[0].trade_id)]
                [order] = node.storage.load_orders(venue="binance")
                assert (order.status, order.filled) == (OrderStatus.FILLED, Decimal("0.002"))
                stored = {b.asset: b.total for b in node.storage.load_balances("binance")}
                assert {a: q for a, q in stored.items() if q} == _venue_totals(ex)
                assert node.storage.load_balance_adjustments("binance") == []


@pytest.mark.usefixtures("vault_env")
async def test_a_fill_counted_twice_halts_the_exchange_venue_with_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        await _crash_after_send(tmp_path, cfg)
        async with running(cfg) as node:
            assert node.ledger_report.ok, node.ledger_report.describe()
            [fill] = node.storage.load_fills(venue="binance")
        # The same execution booked again under another id: the ledger now says 0.004 BTC bought.
        db = Database(cfg.node.database_url)
        with Storage(db).transaction():
            Storage(db).insert_fill(replace(fill, trade_id=f"{fill.trade_id}-again"), "s1")
        db.dispose()

        async with running(cfg) as node:
            assert node.risk.state is TradingState.HALTED
            reason = node.risk.state_reason
            btc = format(_venue_totals(ex)["BTC"].normalize(), "f")
            assert reason.startswith(f"ledger audit failed: binance BTC: stored {btc} != start 1")
            twice = fill.amount - (fill.fee if fill.fee_asset == "BTC" else 0)
            assert f"(difference {-twice}, beyond the fees' rounding" in reason
            assert reason.endswith("then `tradeguard resume`")
            assert node.storage.load_balance_adjustments("binance") == []

    text = run_cli(capsys, "doctor", "--db", cfg.node.database_url)
    assert text.returncode == 1, text.stderr
    assert f"binance BTC: stored {btc} != start 1" in text.stdout


@pytest.mark.usefixtures("vault_env")
async def test_a_failed_reconciliation_does_not_report_the_fees_rounding_as_a_ledger_mismatch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A start whose reconciliation fails (the venue slow to answer) audits the venue's stored
    balances for information only, and used to drop the fees' rounding from that audit: a
    ledger `tradeguard doctor` passes was logged as `ledger audit failed: ... correct the
    ledger, then tradeguard resume` (seen after a triangular run, fills in 10 decimals that the
    exchange credits in 8)."""
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        async with running(cfg) as node:
            assert node.reconcile_report.ok, node.reconcile_report.reason
        # A round trip the exchange booked in whole units of 1e-8 USDT, its notionals have 10.
        fee = Decimal("0.00614989")
        trip = [
            Fill("binance", "BTC/USDT", f"c{i}", f"v{i}", f"t{i}", side, price,
                 Decimal("0.000123"), fee, "USDT", LiquiditySide.TAKER, i)
            for i, (side, price) in enumerate(
                [(Side.BUY, Decimal("49999.1234")), (Side.SELL, Decimal("49999.5678"))]
            )
        ]  # fmt: skip
        db = Database(cfg.node.database_url)
        storage = Storage(db)
        start = node.start_balances()["binance"]
        credited = Decimal("0.00005466") - 2 * fee  # the venue's 8 decimals, not 0.0000546612
        with storage.transaction():
            for fill in trip:
                storage.insert_fill(fill, "s1")
            storage.upsert_balances("binance", [
                Balance("binance", "BTC", start["BTC"], Decimal(0)),
                Balance("binance", "USDT", start["USDT"] + credited, Decimal(0)),
            ])  # fmt: skip
        db.dispose()

        cfg.reconcile.call_attempts = 1
        cfg.reconcile.call_timeout_s = 0.3
        ex.faults.latency_ms_by_endpoint = {"/api/v3/openOrders": 2000}
        node = TradingNode(cfg)
        try:
            with caplog.at_level(logging.WARNING):
                await node.start()
            assert not node.reconcile_report.ok
            assert node.risk.state_reason.startswith("startup reconciliation failed")
            assert node.ledger_report.ok, node.ledger_report.describe()
            assert "ledger audit failed" not in caplog.text
        finally:
            ex.faults.reset()
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_node_killed_while_the_venue_holds_its_answer_reconciles_the_executed_order(
    tmp_path: Path,
) -> None:
    import asyncio
    import signal

    from tradeguard.sandbox.testing import eventually

    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        # The order executes at once; its answer waits 15 s (the sandbox shuts down after it),
        # and the user stream is silent.
        ex.faults.update({"latency_after_ms_by_endpoint": {"/api/v3/order": 15_000},
                          "drop_execution_reports": 1})  # fmt: skip
        cfg_file = tmp_path / "config.json"
        cfg_file.write_text(cfg.model_dump_json())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(cfg_file), "slow-answer",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await eventually(lambda: len(ex.engine.trades["BTCUSDT"]) == 1, timeout_s=90)
        finally:
            proc.send_signal(signal.SIGKILL)  # the venue executed it; the node hears nothing
            out, err = await proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err.decode()[-4000:]
        assert b"unexpected" not in out, out.decode()
        ex.faults.reset()
        trades = ex.engine.trades["BTCUSDT"]
        for _restart in range(2):
            async with running(cfg) as node:
                assert node.reconcile_report.ok, node.reconcile_report.reason
                assert node.ledger_report.ok, node.ledger_report.describe()
                fills = node.storage.load_fills(venue="binance")
                assert [f.trade_id for f in fills] == [str(trades[0].trade_id)]
                [order] = node.storage.load_orders(venue="binance")
                assert (order.status, order.filled) == (OrderStatus.FILLED, Decimal("0.002"))
                stored = {b.asset: b.total for b in node.storage.load_balances("binance")}
                assert {a: q for a, q in stored.items() if q} == _venue_totals(ex)
        assert len(ex.engine.trades["BTCUSDT"]) == 1  # nothing sent again
