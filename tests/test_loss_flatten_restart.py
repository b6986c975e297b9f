"""`risk.on_loss_halt = "flatten"` is stored before any close is sent: a node SIGKILLed while
its drawdown flatten runs (the breaker has just tripped, the venue has taken the sell, or it
answered and the report was not stored) comes back HALTED and finishes it at the next start,
after reconciliation: the position is sold once, never twice. Real child process, sandbox venue
(real ccxt)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from kill_follow_support import alice_sells, held
from native_exits_support import native_config
from rigs import killed_child
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import eventually, seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")
CHILD = Path(__file__).with_name("loss_flatten_child.py")


@pytest.mark.parametrize(
    ("step", "db"),
    [("after_trip", "sqlite"), ("after_trip", "postgresql"), ("mid_flatten", "sqlite"),
     ("after_flatten", "sqlite")],
)  # fmt: skip
async def test_a_loss_flatten_cut_short_closes_the_position_once_at_the_next_start(
    tmp_path, request, capsys, step, db
):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.risk.on_loss_halt = "flatten"
        if db == "postgresql":
            cfg.node.database_url = request.getfixturevalue("pg_url")
        docs = await killed_child(CHILD, tmp_path, cfg, step)
        assert any("held" in d for d in docs), docs
        shown = _status(capsys, cfg.node.database_url)  # as the killed node left it
        assert shown["trading_state"] == "HALTED", shown
        assert shown["loss_halt"]["mode"] == "flatten" and shown["loss_halt"]["holds"], shown
        assert "not finished" in shown["loss_halt"]["did"], shown
        node = TradingNode(cfg)
        await node.start()  # reconciles, then finishes the flatten before anything trades
        try:
            assert node.risk.state is TradingState.HALTED
            assert node.risk.state_by == "breaker:drawdown"
            await eventually(lambda: held(node) < STEP, 30)
            sells = alice_sells(ex)
            assert len(sells) == 1 and D("0.0019") < sells[0] <= D("0.002"), sells  # once
            last = node.risk.last_kill
            assert last is not None and last["finished_ts"] > 0, last
        finally:
            await node.stop()
            node.close()
        shown = _status(capsys, cfg.node.database_url)
        assert shown["kill_unfinished"] is None, shown
        assert shown["loss_halt"]["did"].startswith("HALTED after flattening"), shown


async def test_a_halt_asked_while_a_loss_flatten_runs_still_flattens_after_a_sigkill(tmp_path):
    # the kill file's halt-only request replaced the stored flatten: the next start finished
    # a halt, and the position the loss limit said to close stayed held
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.risk.on_loss_halt = "flatten"
        docs = await killed_child(CHILD, tmp_path, cfg, "halt_file")
        assert any("held" in d for d in docs), docs
        node = TradingNode(cfg)
        await node.start()
        try:
            assert node.risk.state is TradingState.HALTED
            last = node.risk.last_kill
            assert last is not None and last["flatten"] is True and last["by"] == "ops", last
            await eventually(lambda: held(node) < STEP, 30)
            assert len(alice_sells(ex)) == 1
        finally:
            await node.stop()
            node.close()


def _status(capsys: pytest.CaptureFixture[str], db: str) -> dict:
    """What `tradeguard status --json` says of the database (in-process)."""
    done = run_cli(capsys, "status", "--json", "--db", db)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return dict(json.loads(done.stdout))
