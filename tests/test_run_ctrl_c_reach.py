"""A Ctrl-C the main thread slept through still stops a paper replay (`tradeguard run`).

The strategy sleeps in `on_candle` at candle 41 after the Ctrl-C is already noted but has not
woken it: delivered to another thread of the process (the kernel may hand a process-directed
signal to any thread that does not block it), or noted just before the main thread's sleep
began (the Ctrl-C typed a moment too early, the race the pty test runs into under load). Both
used to leave the replay sleeping for an hour, its progress bar redrawing `40/72`.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import write_paper_toml, write_slice
from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"

STRATEGY = """
import _thread
import signal
import threading
import time

from tradeguard.strategies.base import Strategy


def once_the_main_thread_sleeps(main: int) -> None:
    # what the kernel shows the main thread blocked in; the Ctrl-C comes then
    while "nanosleep" not in open(f"/proc/self/task/{main}/wchan").read():
        time.sleep(0.01)
    if HOW == "on-another-thread":  # a real SIGINT, taken by a thread that is not the main one
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
    else:  # noted and not woken, as one landing just before the sleep began leaves it
        _thread.interrupt_main()


class Sleepy(Strategy):
    seen = 0

    def on_candle(self, candle) -> None:
        self.seen += 1
        if self.seen != 41:
            return
        print("AT-41", flush=True)
        main = threading.get_native_id()
        threading.Thread(target=once_the_main_thread_sleeps, args=(main,), daemon=True).start()
        time.sleep(3600)
"""


@pytest.mark.parametrize("how", ["on-another-thread", "noted-only"])
def test_a_ctrl_c_the_main_thread_slept_through_stops_the_replay(
    tmp_path: Path, data_dir: Path, how: str
) -> None:
    (tmp_path / "sleepy.py").write_text(f"HOW = {how!r}\n{STRATEGY}", encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 72)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "sleepy.py"}:Sleepy"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine, node_extra="checkpoint_every = 10")
    session = PtySession([str(EXE), "run", "--until-end", "--config", str(cfg)], cwd=tmp_path)
    session.expect("AT-41", timeout_s=240)
    code, screen = session.finish(timeout_s=30)
    assert code == 130, screen
    assert "replay interrupted at candle 40 of 72" in screen, screen
    assert "Traceback" not in screen, screen


def test_a_ctrl_c_the_main_thread_slept_through_stops_a_backtest(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "sleepy.py").write_text(f"HOW = 'noted-only'\n{STRATEGY}", encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 72)
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "sleepy.py"}:Sleepy"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine)
    argv = [str(EXE), "backtest", "--config", str(cfg), "--out", str(tmp_path / "run")]
    session = PtySession(argv, cwd=tmp_path)
    session.expect("AT-41", timeout_s=240)
    code, screen = session.finish(timeout_s=30)
    assert code == 130, screen
    assert "tradeguard backtest: stopped by Ctrl-C" in screen, screen
    assert "Traceback" not in screen, screen


def test_a_replay_that_ends_gives_its_ctrl_c_handler_back(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The console script's replay takes SIGINT for itself; ended, what was there before is back
    # (its own handler raised KeyboardInterrupt into whatever ran next, the interpreter's exit).
    cli_main = importlib.import_module("tradeguard.cli.main")  # the module, not its `main`
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", True)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    cfg = write_paper_toml(tmp_path, data)
    before = signal.getsignal(signal.SIGINT)
    nudge, threads = signal.getsignal(signal.SIGURG), set(threading.enumerate())
    try:
        done = run_cli(capsys, "run", "--until-end", "--config", str(cfg))
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    assert after is before
    # and nothing else the run took to reach the main thread is left behind
    assert signal.getsignal(signal.SIGURG) == nudge
    assert signal.set_wakeup_fd(-1) == -1
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()
    assert not [t.name for t in set(threading.enumerate()) - threads if t.is_alive()]


EXECUTOR_STRATEGY = """
import asyncio
import signal
import threading
from pathlib import Path

from tradeguard.strategies.base import Strategy


def blocks_ctrl_c(native_id: int) -> bool:
    status = Path(f"/proc/self/task/{native_id}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:"))
    return bool(int(mask, 16) >> (signal.SIGINT - 1) & 1)


class HandsOff(Strategy):
    call = None

    def on_candle(self, candle) -> None:
        out = Path(self.params["out"])
        if self.call is None:
            self.call = asyncio.get_running_loop().run_in_executor(None, threading.get_native_id)
        elif self.call.done() and not out.exists():  # its worker waits for the next call
            out.write_text(f"{blocks_ctrl_c(self.call.result())}")
"""


def _replay_writing(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], code: str, name: str
) -> str:
    """Replay 30 candles with the strategy `name` of `code`, given a file to write what it saw
    into; the run must end well; return what the strategy wrote."""
    (tmp_path / "mine.py").write_text(code, encoding="utf-8")
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    out = tmp_path / "seen.txt"
    mine = f"""
[[strategies]]
id = "mine"
kind = "{tmp_path / "mine.py"}:{name}"
venue = "paper"
symbol = "BTC/USDT"
params = {{ out = "{out}" }}
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine)
    done = run_cli(capsys, "run", "--until-end", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    return out.read_text()


def test_the_event_loops_worker_threads_never_take_a_ctrl_c(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `asyncio.to_thread` and DNS look-ups run on the loop's default executor: its threads
    # start with Ctrl-C blocked, and waiting for work, a process-directed one goes to the main
    # thread (while they run a call, `ctrl_c_reach` wakes the main thread for one they took).
    out = _replay_writing(tmp_path, data_dir, capsys, EXECUTOR_STRATEGY, "HandsOff")
    assert out == "True", out


HELPER_STRATEGY = """
import asyncio
import signal
import subprocess
from pathlib import Path

from tradeguard.strategies.base import Strategy


def helper_stopped(out: str) -> None:
    codes = []
    for how in (signal.SIGTERM, signal.SIGINT):  # a service manager's stop, a Ctrl-C
        child = subprocess.Popen(["sleep", "60"])
        child.send_signal(how)
        try:
            codes.append(child.wait(timeout=10))
        except subprocess.TimeoutExpired:  # the signal never reached it
            child.kill()
            codes.append(child.wait())
    Path(out).write_text(" ".join(str(c) for c in codes))


class Helper(Strategy):
    def on_candle(self, candle) -> None:
        if not self.params.get("started"):
            self.params["started"] = True
            asyncio.get_running_loop().run_in_executor(None, helper_stopped, self.params["out"])
"""


def test_a_process_a_strategys_worker_thread_starts_takes_ctrl_c_and_sigterm(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A child process inherits the signal mask of the thread that starts it: one started from
    # an event-loop worker (`asyncio.to_thread`, `run_in_executor`) that blocked Ctrl-C and
    # SIGTERM ignored both, the terminal's Ctrl-C and a service manager's stop alike.
    out = _replay_writing(tmp_path, data_dir, capsys, HELPER_STRATEGY, "Helper")
    assert out == f"{-signal.SIGTERM} {-signal.SIGINT}", out


URGENT_STRATEGY = """
import os
import signal
from pathlib import Path

from tradeguard.strategies.base import Strategy

URGENT = []
signal.signal(signal.SIGURG, lambda signum, frame: URGENT.append(signum))  # a library's own


class Urgent(Strategy):
    seen = 0

    def on_candle(self, candle) -> None:
        self.seen += 1
        if self.seen == 5:
            os.kill(os.getpid(), signal.SIGURG)  # out-of-band data on its socket, say
        elif self.seen == 6:
            Path(self.params["out"]).write_text(str(len(URGENT)))
"""


def test_a_sigurg_handler_of_the_strategys_own_still_runs_during_the_replay(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The console script's replay nudges its main thread with SIGURG: a handler a strategy's
    # library set for SIGURG before the run went unanswered for the whole run.
    cli_main = importlib.import_module("tradeguard.cli.main")
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", True)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGURG)
    try:
        out = _replay_writing(tmp_path, data_dir, capsys, URGENT_STRATEGY, "Urgent")
    finally:
        signal.signal(signal.SIGINT, before[0])  # type: ignore[arg-type]
        signal.signal(signal.SIGURG, before[1])  # type: ignore[arg-type]
    assert out == "1", out


def test_a_second_run_on_one_event_loop_keeps_its_worker_pool() -> None:
    """Each run on an event loop put a new pool in place of the last without shutting it down:
    the first pool's threads stayed, idle, for as long as the loop ran (a node run again)."""
    import asyncio

    from tradeguard.cli.common import HeldThreadPool, hold_default_executor

    async def twice() -> tuple[object, object, int]:
        loop = asyncio.get_running_loop()
        hold_default_executor()
        await asyncio.to_thread(lambda: None)
        first = loop._default_executor  # type: ignore[attr-defined]
        before = threading.active_count()
        hold_default_executor()
        await asyncio.to_thread(lambda: None)
        return first, loop._default_executor, threading.active_count() - before  # type: ignore[attr-defined]

    first, second, more = asyncio.run(twice())
    assert isinstance(first, HeldThreadPool)
    assert second is first and more == 0
