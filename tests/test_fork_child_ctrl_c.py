"""Ctrl-C is the command's to answer, never its forked children's.

A terminal's Ctrl-C signals the whole foreground process group, children included. A child
still in the interpreter's after-fork hooks (random reseeds itself there) took the SIGINT as a
KeyboardInterrupt in the hook and printed "Exception ignored ... Traceback" on the user's
terminal; the command, which answers Ctrl-C itself and kills its children, now keeps the
signal from them (`forked.fork_child`, used by the report writer and the data reader).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# A child that is interrupted (SIGINT sent by its parent) while an after-fork hook runs, as a
# terminal's Ctrl-C reaches a child the system had not scheduled yet.
SCRIPT = """
import os, signal, sys, time
from tradeguard.backtest.forked import fork_child

os.register_at_fork(after_in_child=lambda: time.sleep(0.5))
fork = fork_child if sys.argv[1] == "fork_child" else os.fork
read_end, write_end = os.pipe()
pid = fork()
if pid == 0:
    os.close(read_end)
    os.write(write_end, b"done")
    os._exit(0)
os.close(write_end)
time.sleep(0.2)  # the child is in its hook
os.kill(pid, signal.SIGINT)
answer = os.read(read_end, 10)
_, status = os.waitpid(pid, 0)
print(answer.decode(), os.waitstatus_to_exitcode(status))
"""


@pytest.mark.parametrize("fork", ["fork_child", "os.fork"])
def test_a_child_interrupted_in_its_after_fork_hooks(fork: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, fork], capture_output=True, text=True, timeout=60
    )
    if fork == "os.fork":  # what the command's children did: the traceback on the terminal
        assert "Exception ignored" in done.stderr or "KeyboardInterrupt" in done.stderr
        return
    assert done.stdout.split() == ["done", "0"], done.stdout + done.stderr
    assert done.stderr == "", done.stderr
