"""Ctrl-C typed while `tradeguard sweep` starts its worker processes: the terminal sends SIGINT
to the whole foreground process group, workers still starting included. The sweep ends with
exit 130 and its one line; no process prints a traceback (a worker in its interpreter's start
printed "Fatal Python error: init_import_site ... KeyboardInterrupt"), none is left running,
and the same command then resumes and finishes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from backtest_support import write_config
from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"
TRIES = 3


def _in_session(sid: int) -> list[int]:
    """The pids of the live processes of session `sid` (zombies left out)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def _workers_in(sid: int) -> list[int]:
    """The pool workers (not the resource tracker) in session `sid`, starting or running."""
    found = []
    for pid in _in_session(sid):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def _takes_ctrl_c(pid: int) -> bool:
    """Tell whether process `pid` would take a SIGINT (neither blocked nor ignored)."""
    status = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    held = int(status["SigBlk"], 16) | int(status["SigIgn"], 16)
    return not held & (1 << (signal.SIGINT - 1))


def _argv(tmp_path: Path) -> list[str]:
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8, 12]\n')
    return [str(EXE), "sweep", "--config", str(cfg), "--grid", str(grid),
            "--out", str(tmp_path / "s"), "--no-ray", "--workers", "2"]  # fmt: skip


def _ctrl_c_once(argv: list[str], cwd: Path, running: bool) -> tuple[int, str]:
    """Start the sweep; send SIGINT to the terminal's foreground group the moment a pool
    worker is in its session (starting: its interpreter loading) or, `running`, once the bar
    is shown (the workers running combinations); (exit code, screen)."""
    session = PtySession(argv, cwd=cwd, columns=200)
    sid = session.proc.pid
    try:
        deadline = time.monotonic() + 300
        while not _workers_in(sid):
            assert session.proc.poll() is None, session.screen
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.002)
        if running:
            session.expect("0/2", timeout_s=300)
            time.sleep(0.5)
            workers = _workers_in(sid)
            assert workers and not any(_takes_ctrl_c(pid) for pid in workers), workers
        os.killpg(os.tcgetpgrp(session._fd), signal.SIGINT)  # as the terminal does
        code, rest = session.finish(timeout_s=120)
    finally:
        if session.proc.poll() is None:
            session.proc.kill()
    end = time.monotonic() + 30
    while _in_session(sid) and time.monotonic() < end:
        time.sleep(0.1)
    left = _in_session(sid)
    assert not left, f"left running: {left}"
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", rest.replace("\r", ""))


def test_ctrl_c_as_sweep_workers_start(tmp_path: Path, data_dir: Path) -> None:
    argv = _argv(tmp_path)
    for running in [False] * TRIES + [True]:
        code, screen = _ctrl_c_once(argv, tmp_path, running)
        assert code == 130, screen
        assert "Traceback" not in screen and "Fatal Python error" not in screen, screen
        lines = [line for line in screen.splitlines() if "stopped by Ctrl-C" in line]
        assert len(lines) == 1 and lines[0].startswith("tradeguard sweep:"), screen
        assert "the same command resumes" in lines[0], screen
    session = PtySession(argv, cwd=tmp_path, columns=200)
    code, screen = session.finish(timeout_s=600)
    assert code == 0, screen
    stored = sorted((tmp_path / "s" / "combos").glob("*/result.json"))
    assert len(stored) == 2, screen
    assert {json.loads(p.read_text())["values"]["strategies.*.params.fast"] for p in stored} == {
        8,
        12,
    }


@pytest.mark.parametrize("engine", ["processes", "ray"])
def test_ctrl_c_again_while_the_sweep_stops(tmp_path: Path, data_dir: Path, engine: str) -> None:
    """Ctrl-C typed again (and again) while the sweep stops its workers, a local process pool's
    or a local Ray's: still exit 130 and its one line, no traceback, no process left in the
    session."""
    argv = _argv(tmp_path)
    if engine == "ray":
        pytest.importorskip("ray", reason="Ray is the optional sweep extra")
        argv.remove("--no-ray")
    session = PtySession(argv, cwd=tmp_path, columns=200)
    sid = session.proc.pid
    try:
        session.expect("0/2", timeout_s=300)
        time.sleep(0.5)
        group = os.tcgetpgrp(session._fd)
        os.killpg(group, signal.SIGINT)
        for _ in range(200):  # each 5 ms, while it stops (as a key held down)
            if session.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGINT)
            time.sleep(0.005)
        code, rest = session.finish(timeout_s=120)
    finally:
        if session.proc.poll() is None:
            session.proc.kill()
    end = time.monotonic() + 30
    while _in_session(sid) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _in_session(sid), f"left running: {_in_session(sid)}"
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", rest.replace("\r", ""))
    assert code == 130, screen
    assert "Traceback" not in screen and "Exception ignored" not in screen, screen
    lines = [line for line in screen.splitlines() if "stopped by Ctrl-C" in line]
    assert len(lines) == 1 and lines[0].startswith("tradeguard sweep:"), screen
