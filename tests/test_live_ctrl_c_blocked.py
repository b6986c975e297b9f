"""One Ctrl-C stops a sandbox run whose strategy callback blocks: the callback is abandoned after
a bound, what it queued is never sent, the run ends with its checkpoint and summary, exit 130."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from blocked_run_support import ctrl_c_once_marked
from tradeguard.node.interrupt import ABANDON_AFTER_S

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
    return await ctrl_c_once_marked(
        tmp_path, monkeypatch, source, strategy="sleeper", cls=cls, marker="blocked", finish_s=30
    )


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
