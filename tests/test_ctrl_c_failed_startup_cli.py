"""A Ctrl-C during a start-up that then fails (a venue that does not answer) ends the command
as the Ctrl-C said: exit 130 and one line saying start-up did not finish, not the failure's
exit 1."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from cli_support import run_cli
from tradeguard.node import TradingNode

CONFIG = """mode = "sandbox"
[node]
database_url = "sqlite:///{db}"
kill_sentinel = "{kill}"
[[venues]]
name = "binance"
kind = "ccxt"
exchange = "binance"
credentials = "alice"
rest_url = "http://127.0.0.1:{port}"
ws_url = "ws://127.0.0.1:{port}"
symbols = ["BTC/USDT"]
"""


@pytest.mark.usefixtures("vault_env")
def test_a_ctrl_c_during_a_start_up_that_fails_exits_130_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = 9  # discard: nothing listens, every request is refused at once
    cfg = tmp_path / "tg.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "tg.db", kill=tmp_path / "tg.kill", port=port))
    original = TradingNode.start

    async def start(node: Any) -> None:  # the Ctrl-C comes as start-up begins
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0)
        await original(node)

    monkeypatch.setattr(TradingNode, "start", start)
    done = run_cli(capsys, "run", "--config", str(cfg))
    # before: exit 1 with the venue's failure, and the promised checkpoint never came
    assert done.returncode == 130, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("tradeguard run:")]
    assert len(lines) == 1 and "stopped by Ctrl-C during start-up" in lines[0], done.stderr
    assert "nothing was traded" in lines[0]
