"""The first Ctrl-C stops a paper run even while a strategy's callback blocks.

asyncio took the first Ctrl-C as a request to cancel at the next await, which a callback
sleeping in `on_candle` never reaches: the run went on, and only a second Ctrl-C ended it.
A backtest stopped on the first; a paper replay now does the same (exit 130, the unit being
written rolled back, so a run started again resumes from the last commit).
"""

from __future__ import annotations

import sys
from pathlib import Path

from node_support import write_paper_toml, write_slice
from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"

STRATEGY = """
import time

from tradeguard.strategies.base import Strategy


class Sleepy(Strategy):
    def on_candle(self, candle) -> None:
        print("IN-ON-CANDLE", flush=True)
        time.sleep(3600)
"""


def test_first_ctrl_c_stops_a_paper_run_blocked_in_on_candle(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "sleepy.py").write_text(STRATEGY, encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "sleepy.py"}:Sleepy"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine)
    session = PtySession([str(EXE), "run", "--until-end", "--config", str(cfg)], cwd=tmp_path)
    session.expect("IN-ON-CANDLE", timeout_s=240)
    session.type(b"\x03")  # once
    code, screen = session.finish(timeout_s=30)
    assert code == 130, screen
    assert (
        "tradeguard run: stopped by Ctrl-C (strategy 'mine' (Sleepy) in on_candle); every order"
        in screen
    ), screen
    assert "Traceback" not in screen, screen
