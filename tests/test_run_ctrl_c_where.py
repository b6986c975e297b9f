"""Ctrl-C in a paper replay (`tradeguard run`) says where the replay stood in its data: the
progress bar goes with the interrupted run, so the line left on the screen names the candles
done at the last checkpoint, of the data's, and that the next run resumes from its last commit.
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


class SleepyLater(Strategy):
    seen = 0

    def on_candle(self, candle) -> None:
        self.seen += 1
        if self.seen == 41:
            print("AT-41", flush=True)
            time.sleep(3600)
"""


def test_ctrl_c_in_a_paper_replay_names_where_it_stood(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "sleepy.py").write_text(STRATEGY, encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 72)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "sleepy.py"}:SleepyLater"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine, node_extra="checkpoint_every = 10")
    session = PtySession([str(EXE), "run", "--until-end", "--config", str(cfg)], cwd=tmp_path)
    session.expect("AT-41", timeout_s=240)
    session.type(b"\x03")
    code, screen = session.finish(timeout_s=30)
    assert code == 130, screen
    assert "replay interrupted at candle 40 of 72" in screen, screen
    assert "the next run resumes from its last commit" in screen, screen
    assert "Traceback" not in screen, screen
