"""A daily loss limit tripping while another's halt holds (the operator's kill switch) stores
its day at once: a node SIGKILLed right after the trip cannot be resumed the same UTC day.
Real child process, sandbox venue (real ccxt), SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_cli
from native_exits_support import native_config
from rigs import killed_child
from tradeguard.sandbox.testing import seeded_exchange

pytestmark = pytest.mark.usefixtures("vault_env")
CHILD = Path(__file__).with_name("daily_loss_crash_child.py")


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_a_daily_loss_under_a_kill_survives_a_sigkill_and_refuses_a_same_day_resume(
    tmp_path, request, capsys, db
):
    async with seeded_exchange() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        if db == "postgresql":
            cfg.node.database_url = request.getfixturevalue("pg_url")
        [doc] = [d for d in await killed_child(CHILD, tmp_path, cfg) if "day" in d]
    done = run_cli(capsys, "resume", "--db", cfg.node.database_url, "--reason", "checked",
                   "--yes", "--json")  # fmt: skip
    answer = json.loads(done.stdout)
    assert done.returncode == 1 and answer["resumed"] is False, answer
    assert "daily loss limit" in answer["message"] and answer["state"] == "HALTED", answer
    assert doc["day"] > 0
