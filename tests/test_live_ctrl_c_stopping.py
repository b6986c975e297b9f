"""One Ctrl-C ends a sandbox run whose strategy's `on_stopping` hangs, whether it awaits
without end or blocks in a plain call: the hook is abandoned `ABANDON_AFTER_S` after it starts
(a line names the strategy) and the run ends as after any Ctrl-C (exit 130, summary, last
checkpoint). Before, it was awaited as long as it took and one Ctrl-C never ended the run.
A second Ctrl-C quits at once, even when the code it lands in catches every exception: before,
its KeyboardInterrupt was swallowed there and the run went on until the abandon's own quit."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from blocked_run_support import ctrl_c_once_marked
from test_live_ctrl_c_stop_callbacks import HEADER, SWALLOWS, _Node
from tradeguard.node.interrupt import LiveInterrupts

BLOCKER = """
import asyncio


class Blocker(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        Path(self.params["marker"]).write_text("running")

    async def on_stopping(self):
        {wait}
"""
AWAITS = HEADER + BLOCKER.format(wait="await asyncio.sleep(3600)")
BLOCKS = HEADER + BLOCKER.format(wait="time.sleep(3600)")


async def _ctrl_c(tmp_path: Path, monkeypatch, source: str, second: bool = False):
    code, screen, _ = await ctrl_c_once_marked(
        tmp_path, monkeypatch, source, strategy="blocker", cls="Blocker", marker="marker",
        finish_s=40, second=second,
    )  # fmt: skip
    return code, screen


def _last_event(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT kind FROM events ORDER BY id DESC LIMIT 1").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("source", [AWAITS, BLOCKS], ids=["awaits", "blocks"])
async def test_one_ctrl_c_abandons_an_on_stopping_that_awaits_or_blocks_without_end(
    tmp_path: Path, monkeypatch, source: str
) -> None:
    code, screen = await _ctrl_c(tmp_path, monkeypatch, source)
    assert code == 130, screen
    assert "strategy blocker" in screen and "abandoned" in screen, screen
    assert "Run summary" in screen and "Traceback" not in screen, screen
    assert _last_event(tmp_path / "tg.db") == "run.finished"


async def test_a_second_ctrl_c_quits_at_once_in_code_that_catches_everything(
    tmp_path: Path, monkeypatch
) -> None:
    code, screen = await _ctrl_c(tmp_path, monkeypatch, SWALLOWS, second=True)
    assert code == 130, screen
    assert "second Ctrl-C; quitting now" in screen, screen
    assert "caught its abandon" not in screen, screen  # not left to the abandon's own quit
    assert "Traceback" not in screen, screen


async def test_a_hook_that_bounds_itself_is_given_its_own_time_on_top() -> None:
    """An arbitrage's `on_stopping` waits up to its `stop_timeout_s` for a cycle whose legs are
    in flight (`stopping_s`): a Ctrl-C's bound starts after that, not 2 s into it."""
    node = _Node()
    stop = LiveInterrupts(node, abandon_after_s=0.2)  # type: ignore[arg-type]
    assert stop.install()
    try:
        stop._on_sigint(signal.SIGINT, None)  # the first Ctrl-C
        assert await stop.stopping("arb", lambda: asyncio.sleep(0.5), own_s=600) is True
        assert await stop.stopping("plain", asyncio.Event().wait) is False  # never set
    finally:
        stop.uninstall()
    assert stop.abandoned == ["plain"] and node.stopped


async def test_an_on_stopping_bounded_by_asyncio_timeout_ends_in_its_own_timeout() -> None:
    """A hook that bounds its wait with `asyncio.timeout` (or a TaskGroup, or `wait_for` from
    Python 3.12, all of which cancel the task they run in) times out inside itself, whether
    the stop is a Ctrl-C's or not. Before, its steps ran in the node's task: the timeout
    cancelled the node's stop instead, and the hook never saw its TimeoutError."""
    outcome: list[str] = []

    async def hook() -> None:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.Event().wait()
        except TimeoutError:
            outcome.append("timed out in the hook")

    stop = LiveInterrupts(_Node(), abandon_after_s=0.2)  # type: ignore[arg-type]
    assert await stop.stopping("arb", hook) is True
    assert outcome == ["timed out in the hook"] and stop.abandoned == []
