"""A paper venue is the node's own simulation: nothing outside the node can deposit to it or
withdraw from it, and the balance `tradeguard transfer` would read from it is the stored row the
ledger audit found wrong. A difference there is a ledger defect (a fill counted twice, an edited
row); `transfer` refuses to book it as a deposit or withdrawal, and the halt does not offer it."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from node_support import node_for, write_paper_toml, write_slice
from tradeguard.config import load_config
from tradeguard.model import TradingState
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


async def test_a_paper_ledger_difference_is_never_booked_as_a_transfer(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    path = write_paper_toml(tmp_path, data, strategies="")
    cfg = load_config(path)
    node = node_for(cfg)
    try:
        await node.start()
        assert node.ledger_report.ok, node.ledger_report.describe()
    finally:
        await node.stop()
        node.close()
    db_url = cfg.node.database_url
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:  # what a fill counted twice in the balances leaves
            conn.exec_driver_sql("UPDATE balances SET free = '12345' WHERE asset = 'USDT'")
    finally:
        db.dispose()

    node = node_for(load_config(path))
    try:
        await node.start()
        assert node.risk.state is TradingState.HALTED
        reason = node.risk.state_reason
    finally:
        await node.stop()
        node.close()
    assert reason.startswith("ledger audit failed: paper USDT: stored 12345"), reason

    cmd = [sys.executable, "-m", "tradeguard.cli", "transfer", "--config", str(path)]
    cmd += ["--venue", "paper", "--asset", "USDT", "--amount", "2345", "--reason", "deposit"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "--venue paper" in done.stderr and "paper" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    db = Database(db_url)
    try:
        st = Storage(db)
        assert st.load_balance_adjustments("paper") == []
        assert not [e for e in st.load_events() if e.kind == "ledger.transfer_recorded"]
        usdt = [b.total for b in st.load_balances("paper") if b.asset == "USDT"]
        assert usdt == [Decimal(12345)]
    finally:
        db.dispose()
    assert "tradeguard transfer" not in reason, reason  # the halt does not offer it
