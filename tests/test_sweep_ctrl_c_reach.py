"""A Ctrl-C the sweep's main thread slept through still stops `tradeguard sweep`.

The sweep's main thread blocks waiting for its workers' next result. A Ctrl-C noted but not
waking it (one landing just before the wait began, or taken by another thread of the process:
here a thread the strategy's module starts as the sweep loads it) used to wait for the running
combination to end, an hour for this strategy's sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from node_support import write_paper_toml, write_slice
from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"

STRATEGY = """
import _thread
import multiprocessing
import threading
import time
from pathlib import Path

from tradeguard.strategies.base import Strategy

ASLEEP = Path(__file__).with_name("asleep")


def once_the_sweep_waits(main: int) -> None:
    # the worker sleeps, and the main thread has waited for its result a while: noted there,
    # and not woken, as a Ctrl-C landing just before its wait began leaves it
    waiting = 0
    while waiting < 10:
        time.sleep(0.05)
        wchan = open(f"/proc/self/task/{main}/wchan").read()
        waiting = waiting + 1 if ASLEEP.exists() and "futex" in wchan else 0
    _thread.interrupt_main()


if multiprocessing.parent_process() is None:  # the sweep's own process, not a worker
    threading.Thread(
        target=once_the_sweep_waits, args=(threading.get_native_id(),), daemon=True
    ).start()


class Sleepy(Strategy):
    seen = 0

    def on_candle(self, candle) -> None:
        self.seen += 1
        if self.seen == 20:
            ASLEEP.write_text("asleep")
            time.sleep(3600)
"""


def _in_session(sid: int) -> list[int]:
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                pids.append(int(entry))
    return pids


def test_a_ctrl_c_the_main_thread_slept_through_stops_the_sweep(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "sleepy.py").write_text(STRATEGY, encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 40)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "sleepy.py"}:Sleepy"
venue = "paper"
symbol = "BTC/USDT"
params = {{ x = 1 }}
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.x" = [1]\n', encoding="utf-8")
    argv = [str(EXE), "sweep", "--config", str(cfg), "--grid", str(grid),
            "--out", str(tmp_path / "s"), "--no-ray", "--workers", "1"]  # fmt: skip
    session = PtySession(argv, cwd=tmp_path, columns=200)
    sid = session.proc.pid
    try:
        code, screen = session.finish(timeout_s=120)
    finally:
        for pid in _in_session(sid):  # a worker left asleep
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert code == 130, screen
    assert "tradeguard sweep: stopped by Ctrl-C" in screen, screen
    assert "Traceback" not in screen, screen
