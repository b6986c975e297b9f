"""Ctrl-C in `tradeguard sweep`: the first stops the sweep, and a stop that hangs never holds
the terminal.

The first Ctrl-C raises KeyboardInterrupt: the sweep stops its workers and ends with its line
and 130. Ctrl-Cs typed while it stops are not a second stop (one landing in that shutdown
printed tracebacks); but a stop that hangs (a worker that will not end, a Ray that will not
shut down) is left by the third deliberate Ctrl-C or after `STOP_WAIT_S`, whichever comes
first: every process the sweep started is killed and the process ends with 130, saying so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tradeguard.cli.interrupted import interrupted_line

STOP_WAIT_S = 30.0  # the longest the workers' stop may take before the sweep leaves it
FORCE_PRESSES = 3  # the Ctrl-C, the first included, that ends the sweep at once
# Ctrl-Cs closer together than this are one press, however long the run of them: a key held
# down repeats every ~30 ms
PRESS_GAP_S = 0.3


def descendants(root: int) -> list[int]:
    """The pids of every live process below `root` (its children, theirs, ...); Linux only."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return out


def kill_descendants() -> list[int]:
    """Kill (SIGKILL) every process this one started, theirs too; return their pids."""
    pids = descendants(os.getpid())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids


class SweepStop:
    """The sweep's SIGINT handler (`install`); `cancel` once the sweep has ended."""

    def __init__(
        self,
        words: Sequence[str],
        wait_s: float = STOP_WAIT_S,
        end: Callable[[int], Any] = os._exit,
        reap: Callable[[], list[int]] = kill_descendants,
    ) -> None:
        self.words = list(words)
        self.wait_s = wait_s
        self.presses = 0
        self._last = 0.0
        self._end = end
        self._reap = reap
        self._timer: threading.Timer | None = None
        self._installed = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self.on_ctrl_c)
        self._installed = True

    def cancel(self) -> None:
        """The sweep has ended: no bounded wait; after a Ctrl-C, more are ignored from here to
        the process's end (the interpreter's shutdown restores the default handler, and a
        Ctrl-C then killed the process by the signal instead of its 130)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._installed and self.presses:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_ctrl_c(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        if self.presses == 0:
            self.presses, self._last = 1, now
            self._timer = threading.Timer(
                self.wait_s, self.leave, (f"its workers did not stop within {self.wait_s:g} s",)
            )
            self._timer.daemon = True
            self._timer.start()
            raise KeyboardInterrupt
        gap, self._last = now - self._last, now  # a held key's repeats each move it on
        if gap < PRESS_GAP_S:
            return  # the same press (a key held down), or a burst the terminal sent
        self.presses += 1
        if self.presses >= FORCE_PRESSES:
            self.leave(f"Ctrl-C pressed {self.presses} times while its workers stopped")
            return
        _say("tradeguard sweep: stopping its workers; Ctrl-C again leaves them now")

    def leave(self, why: str) -> None:
        """End the process now (130): kill what the sweep started and say what was left."""
        killed = self._reap()
        if killed:
            shown = ", ".join(str(p) for p in killed[:8]) + (", ..." if len(killed) > 8 else "")
            what = (
                f"{len(killed)} process(es) it started were killed (pids {shown}); the "
                "combinations they were running are not stored and run again on the next start"
            )
        else:
            what = "no process it started was left"
        _say(f"{interrupted_line(self.words)}; {why}: {what}")
        self._end(130)


def _say(line: str) -> None:
    # os.write, not print: a handler may run while the main thread is inside a print to stderr;
    # on a terminal, below the progress bar's line rather than after it
    with contextlib.suppress(OSError):
        start = "\n" if os.isatty(2) else ""
        os.write(2, (start + line + "\n").encode("utf-8", "replace"))
