"""Run one call in a forked child while this process does other work: two cores for two jobs.

A finished backtest writes its exports and its HTML report, two jobs over the same results
that share nothing: the report is written by a child (a copy of the process, its results
included) while the command writes the exports. `join` waits for the child and raises here
what it raised there (an `OSError` keeps its path and reason), so a caller sees one error
either way.

```python
job = start(write_report, run_dir, title)   # None: run it yourself (no fork, threads running)
write_exports(...)
report = join(job)                            # the child's return value
```
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from tradeguard.model.errors import TradeguardError

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

Job = tuple[int, int]  # the child's pid and the read end of its pipe


def start(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job | None:
    """Call `fn(*args, **kwargs)` in a forked child; None when this process cannot fork safely
    (no fork, other threads running, which a fork would not carry over, or the system refuses
    a process)."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return None
    # The system may refuse a process or a pipe (a full process table, a cgroup's pids.max,
    # no descriptor left): the caller then runs `fn` itself.
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    parent = os.getpid()
    try:
        pid = fork_child()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _run_child(parent, write_end, fn, args, kwargs)
    os.close(write_end)
    return pid, read_end


def fork_child() -> int:
    """`os.fork()` with Ctrl-C kept from the child: the command answers it and ends its child
    itself (`stop`, `join`). A SIGINT reaching a child still in the interpreter's after-fork
    hooks (random's reseed) printed an "Exception ignored" traceback on the terminal. Call it
    from the main thread; raises OSError as `os.fork` does."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # one pending since the fork goes too
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return pid


class NoAnswer(TradeguardError):
    """The child ended without answering: killed (a kill -9, the OOM killer) or cut short."""


def die_with(parent: int) -> None:
    """In a forked child: be killed when `parent` ends (a SIGKILL, a SIGTERM), never left
    running on alone; ends at once if it has ended already. Linux only (elsewhere: no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def join(job: Job) -> Any:
    """Wait for the child of `job`; return its value or raise its exception (`NoAnswer` if it
    gave none)."""
    pid, read_end = job
    status: int | None = None
    try:
        data = _read_all(read_end)
    except KeyboardInterrupt:  # the child ignores Ctrl-C: it stops now, its work left out
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        with contextlib.suppress(ChildProcessError):  # reaped already (a SIGCHLD handler)
            status = os.waitpid(pid, 0)[1]
    try:
        ok, value = pickle.loads(data)
    except Exception:
        raise NoAnswer(f"its process ended without an answer ({_ending(status)})") from None
    if ok:
        return value
    raise value


def _read_all(fd: int) -> bytes:
    """All the child writes to `fd` until it closes its end (`fd` closed after), waiting in
    turns of 0.1 s: a Ctrl-C landing between the interpreter's last look at its signals and a
    blocking read was seen only once the child had ended (its whole report)."""
    chunks: list[bytes] = []
    try:
        while True:
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _ending(status: int | None) -> str:
    if status is None:
        return "reaped elsewhere"
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


def stop(job: Job) -> None:
    """Kill the child of `job` and reap it: Ctrl-C stops the command now, not once the child's
    work is done (its half-written file is the caller's to remove)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(job[0], signal.SIGKILL)
    discard(job)


def discard(job: Job) -> None:
    """Wait for the child of `job` and drop its answer (the caller has an error of its own)."""
    with contextlib.suppress(Exception):
        join(job)


def _run_child(parent: int, write_end: int, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
    try:
        die_with(parent)  # a command killed leaves no child writing on
        try:
            answer: tuple[bool, Any] = (True, fn(*args, **kwargs))
        except BaseException as exc:  # the parent hears of it and raises it
            _note_traceback(exc)
            answer = (False, exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that does not pickle: its text does
            text = f"{type(answer[1]).__name__}: {answer[1]}"
            data = pickle.dumps((False, RuntimeError(text)), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
    finally:
        os._exit(0)  # nothing of the parent's: no exit handlers, no buffers flushed


def _note_traceback(exc: BaseException) -> None:
    """Keep where `exc` was raised: a pickled exception loses its traceback, a note does not."""
    import traceback

    with contextlib.suppress(Exception):
        text = "".join(traceback.format_exception(exc)).rstrip()
        exc.add_note(f"raised in the child process (pid {os.getpid()}):\n{text}")
