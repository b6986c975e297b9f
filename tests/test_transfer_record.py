"""A deposit and a withdrawal made on the exchange while the node was down: the next start halts
on the ledger audit, naming `tradeguard transfer`; the command (real ccxt against the sandbox on
127.0.0.1) books each only when the venue's figure is the ledger plus the amount stated, and
after a resume the node starts ACTIVE with a clean ledger audit. Without it every start halted
again, the ledger having no way to take the transfer."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from test_spot_short_clear_sandbox import _start, _toml
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal


@pytest.mark.usefixtures("vault_env")
async def test_a_transfer_made_while_the_node_was_down_is_booked_once_the_operator_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def _cli(*args: str) -> tuple[int, str, str]:
        """The command in this process, on a thread of its own (it runs its own event loop
        while the sandbox's runs on this one)."""
        done = await asyncio.wait_for(asyncio.to_thread(run_cli, capsys, *args), 120)
        return done.returncode, done.stdout, done.stderr

    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        assert await _start(cfg) == ("ACTIVE", "", "")  # the ledger opens at 1 BTC, 100,000 USDT
        acc = ex.engine.accounts[ex.account_id(ALICE_KEY)]
        acc.bal("BTC").free += D("0.5")  # deposited while no node runs
        acc.bal("USDT").free -= D(1000)  # withdrawn

        state, by, reason = await _start(cfg)
        assert (state, by) == ("HALTED", "ledger_audit"), reason
        assert "tradeguard transfer --venue binance --asset BTC --amount 0.5 " in reason, reason
        assert "--asset USDT --amount -1000" in reason, reason

        base = ["transfer", "--config", str(path), "--venue", "binance"]
        # an amount the venue does not show (0.4 of a 0.5 difference) books nothing
        code, out, err = await _cli(*base, "--asset", "BTC", "--amount", "0.4", "--reason", "x")
        assert code == 1, (code, out, err)
        assert "a difference of 0.5, not --amount 0.4; nothing booked" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
        code, out, err = await _cli(*base, "--asset", "BTC", "--amount", "abc", "--reason", "x")
        assert code == 2 and "--amount" in err and "'abc'" in err, (code, out, err)
        db = Database(cfg.node.database_url)
        st = Storage(db)
        assert st.load_balance_adjustments("binance") == []

        code, out, err = await _cli(*base, "--asset", "BTC", "--amount", "0.5", "--reason",
                                    "from the cold wallet", "--json")  # fmt: skip
        assert code == 0, err
        done = json.loads(out)
        assert (done["kind"], done["ledger"], done["venue_total"]) == ("deposit", "1.0", "1.5")
        assert done["trading_state"] == "HALTED"
        code, out, err = await _cli(*base, "--asset", "USDT", "--amount", "-1000", "--reason",
                                    "to the bank")  # fmt: skip
        assert code == 0, err
        assert "withdrawal of -1000 recorded" in out, out
        adjustments = {a["asset"]: a["difference"] for a in st.load_balance_adjustments("binance")}
        assert adjustments == {"BTC": D("0.5"), "USDT": D(-1000)}
        events = [e for e in st.load_events() if e.kind == "ledger.transfer_recorded"]
        assert sorted(e.data["asset"] for e in events) == ["BTC", "USDT"]
        db.dispose()

        code, _, err = await _cli("resume", "--config", str(path), "--reason", "booked", "--yes")
        assert code == 0, err
        node = TradingNode(cfg)
        try:
            await node.start()
            assert node.ledger_report.ok, node.ledger_report.describe()
            assert node.risk.state is TradingState.ACTIVE, node.risk.state_reason
        finally:
            await node.stop()
            node.close()
