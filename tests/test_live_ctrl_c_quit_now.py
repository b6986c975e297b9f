"""The hard exit of a Ctrl-C (node.interrupt: a callback that swallows its abandon is struck
twice, then the process quits with exit 130) happens whatever stderr is doing. The line it says
first and the log flush were written from the signal handler itself: with stderr's pipe full (a
reader that stopped reading, a paused terminal), whether or not the callback was itself waiting
on a write there, the process did not quit until the reader came back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

ABANDON_S = 0.5
# the second strike comes 2 x ABANDON_S after the Ctrl-C; the rest is room for a loaded machine
BOUND_S = 2 * ABANDON_S + 3.0

CHILD = """
import logging, os, sys, time
from types import SimpleNamespace
from tradeguard.node.interrupt import LiveInterrupts

class Node:
    def __init__(self):
        self._ctx = SimpleNamespace(queue=[])

    def request_stop(self):
        pass

logging.basicConfig(stream=sys.stderr, format="%(message)s")
stop = LiveInterrupts(Node(), abandon_after_s=float(sys.argv[1]))
assert stop.install()
chars = int(sys.argv[2])

def swallows():
    os.write(1, b"ready\\n")
    while True:
        try:
            time.sleep(60)
        except BaseException:
            if chars:  # a line about it: it waits on stderr's reader
                logging.getLogger("blocker").error("caught; going on %s", "x" * chars)

stop.call("blocker", swallows)
"""


def _fill(fd: int) -> None:
    """Write to the pipe `fd` until it holds no more (through a description of its own: the
    child's stderr stays blocking)."""
    own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(own, b"y" * 4096)
    except BlockingIOError:
        pass
    finally:
        os.close(own)


def _ctrl_c_with_stderr_unread(chars: int) -> tuple[int | None, float, bytes]:
    """Start the child, type one Ctrl-C (SIGINT) once its callback runs, and read nothing of its
    stderr for a while (after the Ctrl-C's own line, the pipe is filled to the brim);
    return its exit code (None: still running 10 s after stderr is read), the seconds from the
    Ctrl-C to its end, and its stderr."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ABANDON_S), str(chars)],
        stdout=subprocess.PIPE, stderr=write_end,
    )  # fmt: skip
    got = bytearray()

    def drain() -> None:  # the reader comes back
        while chunk := os.read(read_end, 65536):
            got.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.2)
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        time.sleep(ABANDON_S / 2)  # the Ctrl-C's line is in; the first strike is not yet
        _fill(write_end)
        os.close(write_end)
        write_end = -1
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(BOUND_S)
        took = time.monotonic() - asked  # BOUND_S and more: it did not quit while unread
        reader.start()
        try:
            code: int | None = proc.wait(10)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if write_end >= 0:
            os.close(write_end)
    if reader.ident is not None:
        reader.join(5)  # every write end is closed: it reads to the end
    os.close(read_end)
    return code, took, bytes(got)


@pytest.mark.parametrize(
    "chars", [0, 200], ids=["stderr-pipe-full", "callback-blocked-writing-stderr"]
)
def test_the_hard_exit_happens_while_stderr_takes_nothing(chars: int) -> None:
    code, took, err = _ctrl_c_with_stderr_unread(chars)
    assert code == 130, (code, err[-2000:])
    assert took < BOUND_S, (took, err[-2000:])
    assert b"Traceback" not in err, err[-4000:]
