"""A sweep whose stop hangs after the first Ctrl-C is left by the third: exit 130, a line
saying what it killed and what is not stored, no process of its own left running. Before, every
Ctrl-C after the first was ignored and only `kill -9` ended it."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from pty_support import PtySession
from test_sweep_ctrl_c_workers import _argv, _in_session
from tradeguard.cli.sweep_stop import SweepStop

CHILD = Path(__file__).with_name("sweep_hang_child.py")


def test_a_third_ctrl_c_leaves_a_sweep_whose_stop_hangs(tmp_path: Path, data_dir: Path) -> None:
    argv = [sys.executable, str(CHILD), *_argv(tmp_path)[1:]]
    session = PtySession(argv, cwd=tmp_path, columns=400)
    sid = session.proc.pid
    try:
        session.expect("0/2", timeout_s=300)
        group = os.tcgetpgrp(session._fd)
        for _ in range(3):  # three presses, as a person types them
            os.killpg(group, signal.SIGINT)
            time.sleep(0.6)
        code, rest = session.finish(timeout_s=60)
    finally:
        if session.proc.poll() is None:
            session.proc.kill()
    end = time.monotonic() + 30
    while _in_session(sid) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _in_session(sid), f"left running: {_in_session(sid)}"
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", rest.replace("\r", ""))
    assert code == 130, screen
    assert "Traceback" not in screen, screen
    lines = [line for line in screen.splitlines() if "stopped by Ctrl-C" in line]
    assert len(lines) == 1 and lines[0].startswith("tradeguard sweep:"), screen
    assert "Ctrl-C pressed 3 times" in lines[0] and "were killed (pids" in lines[0], screen
    assert "not stored and run again" in lines[0], screen


def test_a_stop_that_outlasts_its_bound_ends_the_sweep_without_another_ctrl_c() -> None:
    """The bounded wait, in this process: the end and the killing are stand-ins."""
    ended: list[int] = []
    done = threading.Event()
    stop = SweepStop(
        ["sweep"],
        wait_s=0.05,
        end=lambda code: (ended.append(code), done.set()),
        reap=lambda: [4242],
    )
    try:
        stop.on_ctrl_c(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the first Ctrl-C must stop the sweep")
    stop.on_ctrl_c(signal.SIGINT, None)  # the same press, a burst: nothing more
    assert stop.presses == 1
    assert done.wait(10), "the bounded wait never ended the sweep"
    assert ended == [130]
    stop.cancel()


def test_a_key_held_down_is_one_press_however_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the docs say, a key held down is one press: its auto-repeat (every ~30 ms) counted a
    press every 0.3 s, so holding Ctrl-C for 0.6 s killed every worker of a stop that was
    going well. Deliberate presses, apart, still leave at the third."""
    from types import SimpleNamespace

    from tradeguard.cli import sweep_stop

    clock = [100.0]
    monkeypatch.setattr(sweep_stop, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    ended: list[int] = []
    stop = SweepStop(["sweep"], wait_s=3600, end=ended.append, reap=list)
    try:
        with pytest.raises(KeyboardInterrupt):
            stop.on_ctrl_c(signal.SIGINT, None)
        for _ in range(100):  # three seconds of the key's repeat
            clock[0] += 0.03
            stop.on_ctrl_c(signal.SIGINT, None)
        assert stop.presses == 1 and ended == []
        for presses in (2, 3):  # let go, then pressed again: a press each
            clock[0] += 1.0
            stop.on_ctrl_c(signal.SIGINT, None)
            assert stop.presses == presses
        assert ended == [130]
    finally:
        stop.cancel()
