"""A node SIGKILLed at any step of a kill with flatten (right after its trigger, before its
cancels, after them, while its flatten is on its way, after it) finishes the kill at the next
start, before anything trades: every order cancelled on the venue, the position sold once, the
kill's report stored with `finished_ts`. Until then `tradeguard status` says the kill is
unfinished. Real child process, sandbox venue (real ccxt)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from kill_follow_support import alice_sells, held
from native_exits_support import native_config
from rigs import killed_child
from tradeguard.api.serialisers import state_payload
from tradeguard.model.enums import OrderStatus
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
CHILD = Path(__file__).with_name("kill_restart_child.py")


@pytest.mark.parametrize(
    "step", ["after_trigger", "before_cancel", "after_cancel", "mid_flatten", "after_flatten"]
)
async def test_a_kill_cut_short_is_finished_at_the_next_start(tmp_path, capsys, step):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        [doc] = [d for d in await killed_child(CHILD, tmp_path, cfg, step) if "resting" in d]
        shown = _status(capsys, cfg.node.database_url)  # as the killed node left it
        assert shown["trading_state"] == "HALTED", shown
        assert "the next start finishes it" in shown["kill_unfinished"], shown
        node = TradingNode(cfg)
        await node.start()  # reconciles, then finishes the kill before anything trades
        try:
            assert node.risk.state.value == "HALTED"
            acct = ex.account_id(ALICE_KEY)
            assert ex.engine.open_orders(acct, "BTCUSDT") == []  # the resting buy cancelled
            journaled = node.storage.get_order(doc["resting"])
            assert journaled is not None and journaled.status is OrderStatus.CANCELLED
            await eventually(lambda: held(node) < STEP, 30)
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0, last
            assert last["reason"] == "cut short" and last["flatten"] is True
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells  # once
        finally:
            await node.stop()
            node.close()
        shown = _status(capsys, cfg.node.database_url)
        assert shown["kill_unfinished"] is None and shown["kill"]["finished_ts"] > 0, shown


def _status(capsys: pytest.CaptureFixture[str], db: str) -> dict:
    """What `tradeguard status --json` says of the database (in-process)."""
    done = run_cli(capsys, "status", "--json", "--db", db)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return dict(json.loads(done.stdout))


async def test_a_kill_cut_short_stays_unfinished_and_says_so_when_reconciliation_fails(
    tmp_path, capsys
):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        [doc] = [d for d in await killed_child(CHILD, tmp_path, cfg, "before_cancel")
                 if "resting" in d]  # fmt: skip
        cfg.reconcile.call_attempts = 1
        cfg.reconcile.call_timeout_s = 2
        # the venue's trade history does not answer within the call's 2 s: reconciliation fails
        ex.faults.latency_ms_by_endpoint = {"/api/v3/myTrades": 4_000}
        node = TradingNode(cfg)
        await node.start()
        try:
            assert node.reconcile_report is not None and not node.reconcile_report.ok
            assert node.risk.state.value == "HALTED"
            last = node.risk.last_kill
            assert last is not None and not last.get("finished_ts"), last
            assert "start-up reconciliation failed" in last["unfinished"], last
            api = state_payload(node)["kill_switch"]  # what GET /api/v1/state answers
            assert api["unfinished"] == last["unfinished"] and api["engaged"] is True, api
            assert len(ex.engine.open_orders(ex.account_id(ALICE_KEY), "BTCUSDT")) == 1
            assert alice_sells(ex) == []  # nothing sent on a ledger not checked
        finally:
            await node.stop()
            node.close()
        shown = _status(capsys, cfg.node.database_url)
        assert "start-up reconciliation failed" in shown["kill_unfinished"], shown
        assert doc["resting"]
