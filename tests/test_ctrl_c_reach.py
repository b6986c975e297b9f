"""The threads a command starts never take its Ctrl-C, and a progress bar stopped part-way by a
Ctrl-C stops redrawing.

A process-directed SIGINT goes to any thread that does not block it; taken by one that is not
the main thread, it does not wake the main thread from a blocking call. The kernel shows each
thread's blocked signals in /proc (Linux).
"""

from __future__ import annotations

import io
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from tradeguard.cli.bar import progress_bar, stop_bar
from tradeguard.storage.db import Database

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the blocked signals in /proc"
)


def _blocks_ctrl_c(thread: threading.Thread) -> bool:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    mask = int(next(v for k, _, v in (ln.partition(":") for ln in status.splitlines())
                    if k == "SigBlk"), 16)  # fmt: skip
    return bool(mask >> (signal.SIGINT - 1) & 1)


def _threads_named(prefix: str) -> Iterator[threading.Thread]:
    return (t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive())


def test_a_databases_checkpoint_thread_never_takes_a_ctrl_c(tmp_path: Path) -> None:
    before = set(threading.enumerate())  # another test's database may still run its own
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    try:
        name = "sqlite-checkpoint:tg.db"
        (checkpointer,) = [t for t in _threads_named(name) if t not in before]
        assert _blocks_ctrl_c(checkpointer)
    finally:
        db.dispose()
    assert not _blocks_ctrl_c(threading.current_thread())  # the main thread's is as it was


def test_a_progress_bars_refresh_thread_never_takes_a_ctrl_c() -> None:
    before = set(threading.enumerate())
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with progress_bar(console, "replay") as progress:
        progress(1, 10)
        (refresh,) = set(threading.enumerate()) - before
        assert _blocks_ctrl_c(refresh)
    assert not _blocks_ctrl_c(threading.current_thread())


def test_a_ctrl_c_inside_the_bars_stop_still_stops_its_redrawing() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    bar = Progress(console=console, transient=True)
    bar.start()
    refresh = bar.live._refresh_thread
    assert refresh is not None

    def ctrl_c_here() -> None:  # where rich's stop has marked the bar stopped, nothing more
        raise KeyboardInterrupt

    console.clear_live = ctrl_c_here  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        stop_bar(bar, console)
    refresh.join(timeout=10)
    assert not refresh.is_alive()
    assert bar.live not in console._render_hooks


def test_an_alert_channels_worker_thread_never_takes_a_ctrl_c() -> None:
    from tradeguard.alerts.channels import _DaemonWorker

    before = set(threading.enumerate())
    calls = _DaemonWorker("alerts-worker-under-test")
    try:
        (worker,) = set(threading.enumerate()) - before
        assert _blocks_ctrl_c(worker)
    finally:
        calls.shutdown()


def _enter_lines() -> list[int]:
    """The lines of `ReachMainThread.__enter__` after its checks: where a Ctrl-C may land."""
    import dis

    from tradeguard.ctrl_c_reach import ReachMainThread

    code = ReachMainThread.__enter__.__code__
    lines = sorted({ln for _, _, ln in code.co_lines() if ln is not None})
    first = next(ln for _, ln in dis.findlinestarts(code) if ln and ln > code.co_firstlineno + 3)
    return [ln for ln in lines if ln >= first]


@pytest.mark.parametrize("line", _enter_lines())
def test_a_ctrl_c_as_the_watch_begins_leaves_nothing_of_it(line: int) -> None:
    # A Ctrl-C the replay's handler raises on any line of the watch's set-up: the wakeup socket
    # (its fd closed with the object, then another file's: a signal wrote into it), SIGURG's
    # handler, the watcher thread, the main thread's mask, all as they were.
    from tradeguard.ctrl_c_reach import ReachMainThread

    reach = ReachMainThread()
    code = ReachMainThread.__enter__.__code__

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is not code:
            return None
        if event == "line" and frame.f_lineno == line:
            sys.settrace(None)
            frame.f_trace = None
            raise KeyboardInterrupt
        return tracer

    nudge, threads = signal.getsignal(signal.SIGURG), set(threading.enumerate())
    sys.settrace(tracer)
    try:
        with reach:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    left_fd = signal.set_wakeup_fd(-1)
    left_nudge = signal.getsignal(signal.SIGURG)
    signal.signal(signal.SIGURG, nudge)
    assert left_fd == -1
    assert left_nudge == nudge
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()
    for thread in set(threading.enumerate()) - threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), thread.name


def _exit_lines() -> list[tuple[str, int]]:
    """Where in `ReachMainThread`'s end a Ctrl-C may land once it began: each line of
    `__exit__` after its check (`if`, `return`) and first statement, and of what it calls to
    give back."""
    from tradeguard.ctrl_c_reach import ReachMainThread

    out = []
    for name, skip in (("__exit__", 3), ("_give_back", 0)):
        fn = getattr(ReachMainThread, name, None)
        if fn is None:
            continue
        code = fn.__code__
        body = sorted({ln for _, _, ln in code.co_lines() if ln and ln > code.co_firstlineno})
        # the signature's continuation lines are not statements: from the first one on
        starts = sorted({ln for _, ln in __import__("dis").findlinestarts(code) if ln})
        statements = [ln for ln in body if ln in starts and ln > code.co_firstlineno + 2]
        out += [(name, ln) for ln in statements[skip:]]
    return out


@pytest.mark.parametrize(("where", "line"), _exit_lines())
def test_a_ctrl_c_as_the_watch_ends_leaves_nothing_of_it(where: str, line: int) -> None:
    # The run ended and a real Ctrl-C came as the watch was being given back (the replay's
    # handler raises it): it still ends whole, and the Ctrl-C is raised after it.
    from tradeguard.ctrl_c_reach import ReachMainThread

    code = getattr(ReachMainThread, where).__code__

    sent = []

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if event == "call":
            return tracer if frame.f_code is code else None
        if event == "line" and frame.f_lineno == line:
            sys.settrace(None)
            frame.f_trace = None
            sent.append(line)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        return tracer

    nudge, threads = signal.getsignal(signal.SIGURG), set(threading.enumerate())
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    reach = ReachMainThread()
    try:
        with reach:
            sys.settrace(tracer)
        sys.settrace(None)
    except KeyboardInterrupt:
        assert sent
    else:
        assert not sent, "the Ctrl-C was lost"
    finally:
        sys.settrace(None)
        signal.signal(signal.SIGINT, before)
    if not sent:
        pytest.skip(f"line {line} does not run here")
    left_fd = signal.set_wakeup_fd(-1)
    left_nudge = signal.getsignal(signal.SIGURG)
    signal.signal(signal.SIGURG, nudge)
    assert left_fd == -1
    assert left_nudge == nudge
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()
    for thread in set(threading.enumerate()) - threads:
        thread.join(timeout=10)
        assert not thread.is_alive(), thread.name
