"""Text a venue chooses (its asset names) shown by the command line in a real terminal: escaped,
never acted on by the terminal, nor read as console markup."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from live_support import sandbox_config, write_vault
from pty_support import run_in_pty
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

EXE = Path(sys.executable).parent / "tradeguard"

# An asset name from a hostile venue: clears the screen, retitles the window, deletes lines,
# and closes a markup tag that was never opened (ccxt writes currency codes in capitals).
HOSTILE_ASSET = "X\x1b[2J\x1b]0;PWNED\x07\x1b[8M[/]Y"


async def test_a_hostile_venues_asset_name_is_shown_escaped_by_balances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        ex.add_account(ALICE_KEY, ALICE_SECRET, {HOSTILE_ASSET: Decimal("7")})
        config = sandbox_config(tmp_path, ex, [])
        node = TradingNode(config)
        await node.start()  # the start's balance sync stores what the venue listed
        await node.stop()
        node.close()
    assert HOSTILE_ASSET in {b.asset for b in _stored_balances(config)}
    argv = [str(EXE), "balances", "--db", config.node.database_url]
    code, screen = await asyncio.to_thread(run_in_pty, argv, cwd=tmp_path, timeout_s=120)
    assert code == 0 and "Traceback" not in screen, screen
    for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\x1b[8M"):
        assert raw not in screen, (raw, screen)
    assert "X\\x1b[2J\\x1b]0;PWNED\\x07\\x1b[8M[/]Y" in screen, screen


def _stored_balances(config):
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    storage = Storage(Database(config.node.database_url))
    try:
        return storage.load_balances()
    finally:
        storage.db.dispose()
