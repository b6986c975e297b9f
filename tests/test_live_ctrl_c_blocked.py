"""One Ctrl-C stops a sandbox run whose strategy callback blocks: the callback is abandoned after
a bound, what it queued is never sent, the run ends with its checkpoint and summary, exit 130."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

from live_support import move_books, sandbox_toml, write_vault
from pty_support import PtySession
from tradeguard.node.interrupt import ABANDON_AFTER_S
from tradeguard.sandbox.testing import seeded_exchange

EXE = Path(sys.executable).parent / "tradeguard"

SLEEPER = """
import time
from decimal import Decimal
from pathlib import Path

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Sleeper(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        # asks for an order, then blocks before returning: the order must never be sent
        self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                              OrderType.LIMIT, Decimal("40000")))
        Path(self.params["marker"]).write_text("blocked")
        time.sleep(60)
"""


async def _ctrl_c_while_blocked(
    tmp_path: Path, monkeypatch, source: str, cls: str
) -> tuple[int | None, str, float]:
    """Run a sandbox node whose strategy `cls` (in `source`) blocks, type one Ctrl-C once it
    does; return the exit code, the screen and the seconds the run took to end."""
    write_vault(tmp_path, monkeypatch)
    (tmp_path / "sleeper.py").write_text(source)
    marker = tmp_path / "blocked"
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.2)
        text = config.read_text().replace("strategies = []\n", "")
        config.write_text(
            text + f'[[strategies]]\nid = "sleeper"\nkind = "{tmp_path / "sleeper.py"}:{cls}"\n'
            f'venue = "binance"\nsymbol = "BTC/USDT"\nparams = {{ marker = "{marker}" }}\n'
        )
        books = asyncio.create_task(move_books(ex))
        session = PtySession([str(EXE), "run", "--config", str(config)], cwd=tmp_path)
        try:
            for _ in range(1200):  # the callback runs and blocks the loop
                if marker.exists() or session.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert marker.exists(), await asyncio.to_thread(session.finish, 5)
            await asyncio.sleep(0.3)
            asked = time.monotonic()
            session.type(b"\x03")  # one Ctrl-C, never a second
            code, screen = await asyncio.to_thread(session.finish, 30)
            took = time.monotonic() - asked
        finally:
            books.cancel()
            if session.proc.poll() is None:
                session.proc.kill()
    return code, screen, took


async def test_one_ctrl_c_stops_a_run_whose_strategy_blocks_in_a_callback(
    tmp_path: Path, monkeypatch
) -> None:
    code, screen, took = await _ctrl_c_while_blocked(tmp_path, monkeypatch, SLEEPER, "Sleeper")
    assert code == 130, screen
    assert took < ABANDON_AFTER_S + 15, (took, screen)  # the sleep had 60 s to go
    assert "strategy sleeper" in screen and "abandoned" in screen, screen
    assert "Run summary" in screen and "Traceback" not in screen, screen
    conn = sqlite3.connect(tmp_path / "tg.db")
    try:
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
    finally:
        conn.close()
    assert orders == 0  # the abandoned callback's order was dropped, never journaled nor sent
    assert kinds[-1] == "run.finished"  # the run ended itself: checkpoint, heartbeat, summary


HALFWAY = """
import time
from decimal import Decimal
from pathlib import Path

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Halfway(Strategy):
    timeframe = None
    asked = 0

    def on_ticker(self, quote):
        # counts in its own state the order it asks for, then blocks before returning
        self.asked += 1
        self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                              OrderType.LIMIT, Decimal("40000")))
        Path(self.params["marker"]).write_text("blocked")
        time.sleep(60)

    def state(self):
        return {"asked": self.asked}
"""


async def test_an_abandoned_callbacks_half_made_state_is_not_stored(
    tmp_path: Path, monkeypatch
) -> None:
    # The abandoned callback counted an order it asked for; the order was dropped. Its state as
    # the callback left it must not be the one the next start restores: the stored state stays
    # the one from before the callback.
    code, screen, _ = await _ctrl_c_while_blocked(tmp_path, monkeypatch, HALFWAY, "Halfway")
    assert code == 130 and "abandoned" in screen, screen
    conn = sqlite3.connect(tmp_path / "tg.db")
    try:
        rows = conn.execute("SELECT state FROM strategy_runs WHERE strategy_id = 'sleeper'")
        stored = [json.loads(s) if isinstance(s, str) else s for (s,) in rows]
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        (replay,) = conn.execute("SELECT value FROM kv_state WHERE key = 'replay.state'").fetchone()
    finally:
        conn.close()
    assert orders == 0
    assert all((s or {}).get("asked", 0) == 0 for s in stored), stored
    # the run's own state row, which a start restores first, keeps it out too
    kept = json.loads(json.loads(replay))["strategies"].get("sleeper") or {}
    assert kept.get("asked", 0) == 0, kept
