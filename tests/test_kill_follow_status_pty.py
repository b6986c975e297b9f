"""`tradeguard status` in an 80-column terminal says what the kill's follow-up did: a position
it could not flatten is named with the reason (close it by hand), not only in --json. Sandbox
venue (real ccxt); the command runs in its own process under a pty."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from kill_follow_support import end_with_coins_gone, follow_node, kill_and_flatten
from native_exits_support import native_config
from node_support import trading_live
from pty_support import run_in_pty
from test_bot_close_oco import bot_coins_only
from tradeguard.sandbox.testing import eventually

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
EXE = Path(sys.executable).parent / "tradeguard"


async def test_status_in_a_terminal_names_a_follow_up_that_failed(tmp_path):
    ex = bot_coins_only()  # alice holds only the BTC she buys
    async with ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        node = follow_node(cfg)
        await node.start()
        async with trading_live(node):
            listed, _ = await kill_and_flatten(node)
            # the venue ends the close and the coins leave the account: every sale is refused
            end_with_coins_gone(ex, listed, node)

            def failed() -> bool:
                follow = (node.risk.last_kill or {}).get("follow_up") or [{}]
                return bool(follow[0].get("status") == "failed")

            await eventually(failed, 60)
    code, screen = run_in_pty(
        [str(EXE), "status", "--db", cfg.node.database_url], cwd=tmp_path, columns=80
    )
    assert code == 0, screen
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "")
    assert max(len(line) for line in text.splitlines()) <= 80, text
    flat = " ".join(text.split())
    assert "Kill follow-up of binance:BTC/USDT: failed" in flat, text
    assert "still open after 3 flatten orders" in flat, text
