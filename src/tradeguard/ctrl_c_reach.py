"""A Ctrl-C always reaches the main thread, even while it blocks in a call (a strategy's sleep).

```python
start_thread(threading.Thread(target=work, daemon=True))  # never takes SIGINT, SIGTERM, SIGALRM
with ReachMainThread():       # the command's run: a Ctrl-C the main thread slept through
    run_the_replay()          # wakes it
```

CPython runs signal handlers on the main thread only, between two steps of its Python code.
A blocking call there (a `time.sleep`, a read) returns early only when the signal itself
interrupts that thread. Two ways a Ctrl-C does not: the kernel hands a process-directed signal
to another thread (a thread of our own, a library's), whose C-level handler only notes it; or
the signal lands on the main thread after its last check for signals and before the call it
then blocks in. Either way the Ctrl-C is noted and waits for the call to end, an hour for a
strategy's `time.sleep(3600)`, while the progress bar goes on redrawing.

`signals_held` starts threads with those signals blocked (the mask is inherited when a thread
is created, so there is no moment it takes them): a process-directed Ctrl-C goes to the main
thread. `ReachMainThread` covers the rest: the C-level handler writes the signal's number to a
socket (`signal.set_wakeup_fd`) whichever thread it runs on, and a watcher thread then nudges
the main thread with `NUDGE` (its handler does nothing; its only effect is to interrupt the call
the main thread blocks in, after which CPython runs the noted handlers: the Ctrl-C's, or the
alarm's that abandons a blocked strategy callback) until the main thread has run them, at most
`NUDGES` times. A blocking call inside a C extension that
retries on its own is not interrupted this way (nor by a Ctrl-C on a single thread).

Not covered: a Ctrl-C in the first hundredths of a second, while the interpreter starts and the
console script pip generated imports `re` before ours, ends the process Python's way (killed
by the signal, or a traceback of that import, or `Fatal Python error` during `site`): no code of
ours runs yet, and the launcher is not ours to change.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any, ParamSpec, TypeVar

HELD = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGALRM") if hasattr(signal, name)
)
# ignored by default: one still on its way after the watch ends is harmless (None: Windows)
NUDGE: int | None = getattr(signal, "SIGURG", None)
# what the main thread must run at once: a Ctrl-C, and the alarm that abandons a blocked callback
WAKING = frozenset(s for s in HELD if s != getattr(signal, "SIGTERM", None))
NUDGES = 40  # tries, `NUDGE_EVERY_S` apart
NUDGE_EVERY_S = 0.05
P = ParamSpec("P")
T = TypeVar("T")


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Block `HELD` in this thread while inside: a thread started here inherits the block, so
    the Ctrl-C, SIGTERM and alarms meant for the main thread never land on it. What arrives
    meanwhile is delivered once the block is lifted."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, no such threads
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def start_thread(thread: threading.Thread) -> threading.Thread:
    """Start `thread` with `HELD` blocked in it for good (see `signals_held`); return it."""
    with signals_held():
        thread.start()
    return thread


def run_unheld(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` with `HELD` taken in this thread (blocked again after): a held thread's own
    work, such as an event loop's worker running a strategy's `asyncio.to_thread`. A process
    started inherits its thread's mask, and one started from a held thread ignored the
    terminal's Ctrl-C and a service manager's SIGTERM; one it takes meanwhile is the main
    thread's all the same (`ReachMainThread`)."""
    if not hasattr(signal, "pthread_sigmask"):
        return fn(*args, **kwargs)
    before = signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class ReachMainThread:
    """While inside (on the main thread), a SIGINT or SIGALRM (a live run's abandon timer) the
    main thread has not handled is followed by `NUDGE`s to it until it has. Elsewhere, or
    without signals, it does nothing. The wakeup socket an event loop set before (asyncio's)
    still gets every signal number, and a SIGURG handler set before (a library's) every
    SIGURG."""

    def __init__(self) -> None:
        self._active = False
        self._reached = threading.Event()
        self._before_fd = -1
        self._before_nudge: object = None

    def __enter__(self) -> ReachMainThread:
        if NUDGE is None or threading.current_thread() is not threading.main_thread():
            return self
        import socket  # here: a command's start does not pay for it unless it runs

        self._main = threading.get_ident()
        self._signal: int = NUDGE
        self._watcher = threading.Thread(target=self._watch, name="ctrl-c-reach", daemon=True)
        self._reader, self._writer = socket.socketpair()
        # A Ctrl-C anywhere from here (the replay's handler raises it; one as the watcher
        # starts comes as the block's end delivers it) gives back all that was taken: the
        # wakeup fd left behind was a closed socket's, soon another file's that signals wrote to.
        try:
            self._active = True
            self._before_nudge = signal.getsignal(self._signal)
            signal.signal(self._signal, self._on_nudge)
            self._writer.setblocking(False)
            self._before_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
            start_thread(self._watcher)
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._active:
            return
        with signals_held():  # a Ctrl-C meanwhile is raised once all is given back
            self._give_back()

    def _give_back(self) -> None:
        import socket

        self._active = False
        now = signal.set_wakeup_fd(self._before_fd)
        if now != self._writer.fileno():  # another took it meanwhile: theirs stays
            signal.set_wakeup_fd(now)
        self._reached.set()  # a nudging watcher stops
        self._reader.shutdown(socket.SHUT_RDWR)  # its read ends
        if self._watcher.ident is not None:
            self._watcher.join(timeout=5)
        if signal.getsignal(self._signal) == self._on_nudge:  # ours (one set since stays)
            # None: one not set from Python, which ours replaced and cannot give back
            before: Any = signal.SIG_DFL if self._before_nudge is None else self._before_nudge
            signal.signal(self._signal, before)
        self._reader.close()
        self._writer.close()

    def _on_nudge(self, signum: int, frame: FrameType | None) -> None:
        # Handlers run in the order of their numbers: the noted SIGINT's (2) and SIGALRM's (14)
        # have run by now.
        self._reached.set()
        before = self._before_nudge
        if callable(before):  # the program's own (a library's): it gets every SIGURG still,
            before(signum, frame)  # ours too (a SIGURG says only that there may be news)

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(512)
            except OSError:
                return
            if not data:  # the watch ended
                return
            if self._before_fd >= 0:  # the loop that set it reads its signals there
                with contextlib.suppress(OSError):
                    os.write(self._before_fd, data)
            if WAKING.intersection(data):
                self._nudge()

    def _nudge(self) -> None:
        self._reached.clear()
        for _ in range(NUDGES):
            if not self._active:
                return
            with contextlib.suppress(OSError, ValueError):
                signal.pthread_kill(self._main, self._signal)
            if self._reached.wait(NUDGE_EVERY_S):
                return


__all__ = ["HELD", "NUDGE", "ReachMainThread", "run_unheld", "signals_held", "start_thread"]
