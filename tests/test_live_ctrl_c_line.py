"""A sandbox (or live) run that one Ctrl-C stops mid-run ends, like every command a Ctrl-C
stops, with the one line naming it and what it leaves safe. Before, it stopped whole (summary,
exit 130) without it: the line came only from a Ctrl-C typed as the run started."""

from __future__ import annotations

from pathlib import Path

import pytest

from blocked_run_support import ctrl_c_once_marked
from test_live_ctrl_c_stop_callbacks import HEADER

TICKING = (
    HEADER
    + """

class Ticking(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        Path(self.params["marker"]).write_text("running")
"""
)


async def test_one_ctrl_c_mid_run_ends_with_the_commands_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, screen, _ = await ctrl_c_once_marked(
        tmp_path, monkeypatch, TICKING, strategy="ticking", cls="Ticking", marker="marker",
        finish_s=60,
    )  # fmt: skip
    assert code == 130, screen
    assert "Run summary" in screen and "Traceback" not in screen, screen
    text = screen.replace("\r", "")
    lines = [line for line in text.splitlines() if "stopped by Ctrl-C" in line]
    assert len(lines) == 1, screen
    assert lines[0].startswith("tradeguard run: stopped by Ctrl-C; every order and fill"), screen
