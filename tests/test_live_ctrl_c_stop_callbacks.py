"""One Ctrl-C ends a sandbox run (exit 130, within a bound, never a second Ctrl-C) whose
strategy blocks where the first bound did not reach: in `on_fill` (its fill committed before
the callback, kept), in `on_stop`, or in a callback that swallows the abandon with
`except BaseException` and goes on (the process then quits at once, as after a kill: the
database stays whole and the next start reconciles). Before, each held the run until a
second Ctrl-C."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

from blocked_run_support import ctrl_c_once_marked
from tradeguard.node.interrupt import ABANDON_AFTER_S, LiveInterrupts, StrategyAbandoned

HEADER = """
import time
from decimal import Decimal
from pathlib import Path

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy
"""

IN_ON_FILL = (
    HEADER
    + """

class Blocker(Strategy):
    timeframe = None
    sent = False

    def on_ticker(self, quote):
        if not self.sent:  # one buy across the ask (50,001): filled at once
            self.sent = True
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                                  OrderType.LIMIT, Decimal("50500")))

    def on_fill(self, fill):
        Path(self.params["marker"]).write_text("blocked")
        time.sleep(60)
"""
)

IN_ON_STOP = (
    HEADER
    + """

class Blocker(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        Path(self.params["marker"]).write_text("running")

    def on_stop(self):
        time.sleep(60)
"""
)

SWALLOWS = (
    HEADER
    + """

class Blocker(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        Path(self.params["marker"]).write_text("blocked")
        while True:
            try:
                time.sleep(60)
            except BaseException:
                pass
"""
)


async def _one_ctrl_c(tmp_path: Path, monkeypatch, source: str) -> tuple[int | None, str, float]:
    """Run a sandbox node with strategy `Blocker` from `source`; once its marker is written,
    type one Ctrl-C; return the exit code, the screen and the seconds the run took to end."""
    return await ctrl_c_once_marked(
        tmp_path, monkeypatch, source, strategy="blocker", cls="Blocker", marker="marker",
        finish_s=40,
    )  # fmt: skip


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_one_ctrl_c_abandons_an_on_fill_that_blocks_and_keeps_its_fill(
    tmp_path: Path, monkeypatch
) -> None:
    code, screen, took = await _one_ctrl_c(tmp_path, monkeypatch, IN_ON_FILL)
    assert code == 130, screen
    assert took < 2 * ABANDON_AFTER_S + 15, (took, screen)  # the sleep had 60 s to go
    assert "strategy blocker" in screen and "abandoned" in screen, screen
    assert "Run summary" in screen and "Traceback" not in screen, screen
    db = tmp_path / "tg.db"
    assert _rows(db, "SELECT COUNT(*) FROM fills") == [(1,)]  # booked before on_fill ran
    kinds = [k for (k,) in _rows(db, "SELECT kind FROM events ORDER BY id")]
    assert kinds[-1] == "run.finished"  # the run ended itself: checkpoint, heartbeat, summary


async def test_one_ctrl_c_ends_a_run_whose_on_stop_blocks(tmp_path: Path, monkeypatch) -> None:
    code, screen, took = await _one_ctrl_c(tmp_path, monkeypatch, IN_ON_STOP)
    assert code == 130, screen
    assert took < 2 * ABANDON_AFTER_S + 15, (took, screen)
    assert "strategy blocker" in screen and "abandoned" in screen, screen
    assert "Run summary" in screen and "Traceback" not in screen, screen
    kinds = [k for (k,) in _rows(tmp_path / "tg.db", "SELECT kind FROM events ORDER BY id")]
    assert kinds[-1] == "run.finished"


async def test_one_ctrl_c_quits_a_run_whose_callback_swallows_the_abandon(
    tmp_path: Path, monkeypatch
) -> None:
    code, screen, took = await _one_ctrl_c(tmp_path, monkeypatch, SWALLOWS)
    assert code == 130, screen
    assert took < 2 * ABANDON_AFTER_S + 15, (took, screen)
    assert "strategy blocker's callback caught its abandon" in screen, screen
    assert "Traceback" not in screen, screen
    db = tmp_path / "tg.db"
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(db, "SELECT COUNT(*) FROM orders") == [(0,)]


class _Node:
    """What `LiveInterrupts` touches of a node: its stop flag and the queued intents."""

    def __init__(self) -> None:
        self._ctx = SimpleNamespace(queue=["an intent"])
        self.stopped = False

    def request_stop(self) -> None:
        self.stopped = True


def test_a_bounded_callback_that_catches_its_abandon_and_returns_counts_as_abandoned() -> None:
    node = _Node()
    stop = LiveInterrupts(node, abandon_after_s=0.2)  # type: ignore[arg-type]
    assert stop.install()
    caught: list[str] = []

    def swallows_once() -> None:
        try:
            time.sleep(60)
        except StrategyAbandoned:
            caught.append("abandon")

    try:
        stop._on_sigint(signal.SIGINT, None)  # the first Ctrl-C, between callbacks
        began = time.monotonic()
        assert stop.bounded("s1", swallows_once) is False  # bounded from its own start
        # abandoned 0.2 s in, not slept out: a loaded machine (another test worker) may add
        # seconds, never the 60
        assert time.monotonic() - began < 30
        called: list[int] = []
        assert stop.bounded("s1", called.append, 1) is False  # not called again
        assert stop.bounded("s2", called.append, 2) is True  # another strategy still is
        assert stop.call("s2", called.append, 3) is False  # no market data once stopping
    finally:
        stop.uninstall()
    assert caught == ["abandon"] and node.stopped
    assert stop.abandoned == ["s1"] and node._ctx.queue == []  # its intents dropped
    assert called == [2]
