"""Ctrl-C in a live or sandbox run: stop within a bounded time, even while a strategy blocks.

```python
stop = LiveInterrupts(node)        # built with the node; the live loop calls strategies through it
stop.install()                     # the run's SIGINT handler (the command line, main thread)
stop.call(strat.id, strat.on_ticker, quote)   # False: abandoned, or the run is stopping
stop.uninstall()
```

The first Ctrl-C asks the live loop to stop (it ends as on SIGTERM: duties cancelled,
strategies stopped, the last checkpoint and heartbeat written, the summary printed, exit 130).
The live loop can only notice it between two events: a strategy's market-data callback
(`on_ticker`, `on_candle`, `on_book`, `on_trade`) that blocks (a `time.sleep(60)`, a read with no
timeout) holds the loop. So a callback still running `ABANDON_AFTER_S` after the Ctrl-C is
abandoned: `StrategyAbandoned` is raised into it (at its next Python step; a blocking sleep or
socket read is interrupted by the signal), what it queued is dropped unsent (no order is
journaled from it), its state is not stored again (node.checkpoint: the one last checkpointed
stands), a line names the strategy, and the stop goes on. No further strategy
callback starts once the stop is asked for. A second Ctrl-C quits at once (exit 130, a line
saying so; the next start reconciles what was in flight), whatever the code it lands in does
with exceptions.

The callbacks the stop itself still needs, `on_fill` (its fill is committed before it is
called) and `on_stop`, go through `bounded`: they start even once the stop is asked for, and one
still running `ABANDON_AFTER_S` after the Ctrl-C, or after its own start when it starts later,
is abandoned the same way (the node's other fill listeners still run). `on_stopping` goes
through `stopping`: it runs in a task of its own (what it bounds itself with, `asyncio.timeout`,
cancels that task, not the stop), each step of it a bounded callback, and one still awaiting
`ABANDON_AFTER_S` after the Ctrl-C, or after its own start when it starts later, is abandoned
too (its task cancelled, the coroutine closed, a line naming the strategy); a
strategy that bounds its hook itself (`stopping_s`, an arbitrage's `stop_timeout_s`) is given
that much longer. A strategy
abandoned once is not called again.

A callback that catches `StrategyAbandoned` (an `except BaseException`) and goes on is struck
again `ABANDON_AFTER_S` later; still running then, it cannot be stopped from inside, and the
process quits at once (`os._exit(130)`, a line naming the strategy when stderr takes it within
`QUIT_GRACE_S`; a full pipe or a paused terminal does not hold the exit): as after a kill, nothing
uncommitted is kept, the last checkpoint and summary are not written, and the next start
reconciles. A callback that returned after catching it counts as abandoned.

Bounded: from the first Ctrl-C, the strategy callback running then ends, is abandoned, or the
process quits, within 2 x `ABANDON_AFTER_S` (plus the time to the next Python step); a bounded
callback started later, within 2 x `ABANDON_AFTER_S` of its start. Not bounded by this: code
that never returns to Python (a C extension's loop holding the interpreter) and venues' cancels
on the way out (each bounded by its own timeouts). Without a Ctrl-C (SIGTERM, the end of a
`--duration`) `on_stopping` is awaited as long as it takes: the strategies that use it bound it
themselves.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)
ABANDON_AFTER_S = 2.0
QUIT_GRACE_S = 0.5  # the most the quit waits for its last line and the log flush


class StrategyAbandoned(BaseException):
    """Raised into a strategy callback still running `ABANDON_AFTER_S` after a Ctrl-C (a
    BaseException: a strategy's `except Exception` does not swallow it)."""


class LiveInterrupts:
    """The live run's Ctrl-C: stop the loop, abandon a strategy callback that blocks it."""

    def __init__(self, node: TradingNode, abandon_after_s: float = ABANDON_AFTER_S) -> None:
        self.node = node
        self.abandon_after_s = abandon_after_s
        self.interrupted = False  # a Ctrl-C asked this run to stop (exit 130)
        self.abandoned: list[str] = []  # strategies whose callback was abandoned
        self._inside: str | None = None  # the strategy whose callback runs now
        self._since = 0.0
        self._saved: dict[int, Any] = {}
        self._entry = 0  # callbacks entered so far: names the one running now
        self._running = 0  # the entry of the callback running now (0: none)
        self._struck = 0  # the entry `StrategyAbandoned` was raised into (0: none)
        self._asked_at = 0.0  # when the first Ctrl-C came

    def begin(self) -> list[str]:
        """Start a run (of the node, again in this process): a Ctrl-C that stopped an earlier
        one neither stops this one nor makes its first Ctrl-C quit at once, and a strategy it
        abandoned is called again in this one. Return those strategies: what they hold may be
        half-made, the caller gives them their last stored state back."""
        self.interrupted = False
        self._asked_at = 0.0
        self._struck = 0
        forgiven, self.abandoned = self.abandoned, []
        return forgiven

    def call(self, name: str, fn: Callable[..., object], *args: Any) -> bool:
        """Run one market-data callback; False when the run is stopping or it was abandoned."""
        if self.interrupted:
            return False
        return self._run(name, fn, args)

    def bounded(self, name: str, fn: Callable[..., object], *args: Any) -> bool:
        """Run a callback the stop needs (`on_fill`, `on_stop`), even once the stop is asked for;
        False when it was abandoned (now or before)."""
        if name in self.abandoned:
            return False
        return self._run(name, fn, args)

    async def stopping(
        self, name: str, hook: Callable[[], Awaitable[object]], own_s: float = 0.0
    ) -> bool:
        """Await `hook()` (a strategy's `on_stopping`) in a task of its own (what it bounds
        itself with, `asyncio.timeout` or a TaskGroup, cancels that task), each step a bounded
        callback; once the stop is a Ctrl-C's, a hook still awaiting `own_s` (the time it
        bounds itself to) plus `abandon_after_s` after it (or after the hook's start, when
        later) is abandoned. False when it was abandoned (now or before)."""
        if name in self.abandoned:
            return False
        steps = _BoundedSteps(self, name, hook().__await__())
        task = asyncio.ensure_future(steps)
        started = time.monotonic()
        try:
            while not task.done():
                left = self._left(started, own_s)
                if left is not None and left <= 0:
                    self._abandon(name, started)
                    steps.closing = True  # its next step closes it (its `finally`, bounded)
                    task.cancel()
                    await asyncio.wait({task})
                    return False
                await asyncio.wait({task}, timeout=0.1 if left is None else min(left, 0.1))
        except asyncio.CancelledError:  # the stop itself cancelled: the hook with it
            task.cancel()
            raise
        task.result()  # what the hook raised
        return name not in self.abandoned

    def _left(self, started: float, own_s: float) -> float | None:
        """Seconds an awaiting `on_stopping` begun at `started` has left (None: unbounded)."""
        if not (self.interrupted and self._saved):
            return None
        return max(started, self._asked_at) + own_s + self.abandon_after_s - time.monotonic()

    def _run(self, name: str, fn: Callable[..., object], args: tuple[Any, ...]) -> bool:
        outer = (self._inside, self._since, self._running)
        self._entry += 1
        entry = self._running = self._entry
        self._inside, self._since = name, time.monotonic()
        if self.interrupted and self._saved:  # started during the stop: bounded from its start
            signal.setitimer(signal.ITIMER_REAL, self.abandon_after_s)
        try:
            fn(*args)
        except StrategyAbandoned:
            self._abandon(name)
            return False
        finally:
            struck = self._struck == entry
            if struck or (self.interrupted and self._saved):
                self._struck = 0
                signal.setitimer(signal.ITIMER_REAL, 0)
            self._inside, self._since, self._running = outer
            if self._inside is not None and self.interrupted and self._saved:
                signal.setitimer(signal.ITIMER_REAL, self.abandon_after_s)  # the outer one's
        if struck:  # it caught the abandon and returned: what it did after is not trusted
            self._abandon(name)
            return False
        return True

    def _abandon(self, name: str, since: float | None = None) -> None:
        self.node._ctx.queue.clear()  # nothing it asked for is sent: the run stops
        if name in self.abandoned:
            return
        self.abandoned.append(name)
        log.error(
            "strategy %s: its callback (running %.1f s) had not returned %g s after Ctrl-C; "
            "abandoned (what it queued was dropped, nothing of it sent); stopping",
            name, time.monotonic() - (self._since if since is None else since),
            self.abandon_after_s,
        )  # fmt: skip

    def install(self) -> bool:
        """Take SIGINT for this run (main thread only); False when it cannot."""
        if threading.current_thread() is not threading.main_thread():
            return False
        # SIGALRM (the abandon timer) only from the first Ctrl-C on: until then another's
        # alarm and its pending timer (a watchdog's) are left to it.
        self._saved = {signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint)}
        return True

    def uninstall(self) -> None:
        """Give SIGINT back (and SIGALRM, cancelling a pending abandon timer, once taken)."""
        if not self._saved:
            return
        if signal.SIGALRM in self._saved:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved = {}

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted:  # the second: quit at once, whatever the code here catches
            _quit_now(
                "tradeguard: second Ctrl-C; quitting now without the last checkpoint (the next "
                "start reconciles)"
            )
        self.interrupted = True
        self._asked_at = time.monotonic()
        if self._saved:  # installed: the abandon timer's alarm from now on
            self._saved[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        # The stop first, then the lines: with `2>&1 | tee run.log` the same Ctrl-C ends tee,
        # and a line written to its pipe fails.
        self.node.request_stop()
        if self._inside is not None:
            signal.setitimer(signal.ITIMER_REAL, self.abandon_after_s)
        _say("\nstopping: last checkpoint and summary (Ctrl-C again to quit at once)")
        if self._inside is not None:
            _say(f"waiting {self.abandon_after_s:g} s for strategy {self._inside}'s callback "
                 "to return before abandoning it")  # fmt: skip

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        name = self._inside
        if name is None:
            return
        if self._struck == self._running:  # it caught the first and still runs
            _quit_now(
                f"tradeguard: strategy {name}'s callback caught its abandon and still ran "
                f"{self.abandon_after_s:g} s later; quitting now without the last checkpoint "
                "(the next start reconciles)"
            )
        self._struck = self._running
        signal.setitimer(signal.ITIMER_REAL, self.abandon_after_s)  # in case it catches this
        raise StrategyAbandoned(name)


class _BoundedSteps(Coroutine[Any, Any, object]):
    """An `on_stopping` coroutine whose every step runs as a bounded callback (`_run`), for a
    task of its own: a step abandoned (or one after `closing` is set) closes it and ends the
    task."""

    def __init__(self, stops: LiveInterrupts, name: str, steps: Generator[Any, None, object]):
        self.stops, self.name, self.steps = stops, name, steps
        self.closing = False

    def send(self, value: Any) -> Any:
        return self._step(lambda: self.steps.send(value))

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        exc = typ if val is None else val
        return self._step(lambda: self.steps.throw(exc))

    def close(self) -> None:
        self._close()

    def __await__(self) -> Generator[Any, None, object]:
        return self.steps

    def _step(self, step: Callable[[], Any]) -> Any:
        if self.closing:
            self._close()
            raise StopIteration
        out: list[Any] = []

        def one() -> None:  # the hook's return kept inside: an abandon it caught still counts
            try:
                out.append(step())
            except StopIteration as end:
                out.append(end)

        if not self.stops._run(self.name, one, ()):
            self._close()
            raise StopIteration
        if isinstance(out[0], StopIteration):
            raise StopIteration(out[0].value)
        return out[0]

    def _close(self) -> None:
        """Close the hook's coroutine (its `finally` runs, bounded as a callback)."""
        with contextlib.suppress(RuntimeError, StopIteration):  # it ignored the close
            self.stops._run(self.name, self.steps.close, ())


def _quit_now(line: str) -> NoReturn:
    """End the process at once (exit 130) after `line`: a callback that swallows every
    exception cannot be stopped, nor told to by a second Ctrl-C.

    The line saying so and the log flush run on a thread of their own, waited for at most
    `QUIT_GRACE_S`: written from here, a stderr that takes nothing (a full pipe, a paused
    terminal, the interrupted code blocked in a write to it) would hold the exit for as long.
    """
    done = _thread.allocate_lock()  # the low-level kind: no lock the interrupted code may hold
    done.acquire()

    def last_words() -> None:
        try:
            with contextlib.suppress(Exception):
                _say(line)
            with contextlib.suppress(Exception):
                logging.shutdown()  # the log file keeps what was written
        finally:
            done.release()

    try:
        _thread.start_new_thread(last_words, ())
        done.acquire(timeout=QUIT_GRACE_S)
    finally:  # whatever came meanwhile (no thread to start, a second Ctrl-C): quit
        os._exit(130)


def _say(line: str) -> None:
    """Show `line` on stderr when it can be shown. A signal handler raises nothing but what it
    means to: an error raised here lands in whatever code the signal interrupted, where an
    `except Exception` (logging's own handler has one) takes it and the stop with it, or it
    unwinds the run past its last checkpoint."""
    # OSError: the reader went away (a pipe); ValueError: stderr is closed
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


__all__ = ["ABANDON_AFTER_S", "LiveInterrupts", "StrategyAbandoned"]
