"""A node SIGKILLed while its database refuses writes, after a reconciliation failed for it,
restarts with nothing lost or doubled.

The node runs; its database refuses every write (a locked file); a trade is made by hand on
the account, whose stream commit is refused, and the periodic reconciliation's writes are
refused too: it fails (critical alert, the halt) and the live run goes on, the trade kept to be
caught up. The process is then SIGKILLed before any write succeeds. The restart reconciles
before it trades: the trade is booked once as a fill (never an adjustment), the stored balances
equal the venue's and the audit of the ledger passes. Before, the reconciliation's failed write
ended the live run instead. Sandbox venue (real ccxt), real subprocess.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from running_support import running
from test_reconcile_commit_kill import _venue_totals
from test_reconcile_missed_fill import _config
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

CHILD = Path(__file__).with_name("db_locked_kill_child.py")
D = Decimal


@pytest.mark.usefixtures("vault_env")
async def test_a_kill_after_a_refused_reconciliation_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg = _config(tmp_path, ex)
        cfg.node.reconcile_interval_s = 0.3
        cfg_file = tmp_path / "config.json"
        cfg_file.write_text(cfg.model_dump_json())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(cfg_file),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        async with asyncio.timeout(120):
            line = await proc.stdout.readline()
            assert json.loads(line) == {"started": True}, line
            alice = ex.account_id(ALICE_KEY)
            ex.engine.place(alice, "BTCUSDT", "BUY", "MARKET", ex.now_ms(), qty=D("0.0002"))
            out, err = await proc.communicate()
        (tmp_path / "child.err").write_bytes(err)
        assert proc.returncode == -signal.SIGKILL, (out.decode()[-2000:], err.decode()[-6000:])
        [halted] = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
        assert "database is locked" in halted["halted"]

        async with running(cfg) as node:
            report = node.reconcile_report
            assert report.ok, report.reason
            fills = node.storage.load_fills(venue="binance")
            # the sell of the order path, and the trade by hand caught up, once
            assert sorted(f.side.value for f in fills) == ["buy", "sell"], fills
            assert node.storage.load_balance_adjustments("binance") == []
            stored = {b.asset: b.total for b in node.storage.load_balances("binance")}
            assert {a: q for a, q in stored.items() if q} == _venue_totals(ex)
            assert node.audit_ledger().ok
