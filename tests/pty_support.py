"""Run a command under a pseudo-terminal, as a user's shell would, and collect what it shows."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path


def _spawn(
    argv: list[str], cwd: Path, env: dict[str, str] | None, columns: int, lines: int
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `argv` in a new session whose controlling terminal is a new pty; return the process
    and the pty's main side. Controlling it matters: a prompt reads /dev/tty, and without one
    it finds no terminal at all (as under cron), whatever stdin is."""
    env = dict(os.environ if env is None else env)
    env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)})
    env.pop("NO_COLOR", None)
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=child_fd, stdout=child_fd, stderr=child_fd,
        start_new_session=True, preexec_fn=_take_the_terminal,
    )  # fmt: skip
    os.close(child_fd)
    return proc, main_fd


def _take_the_terminal() -> None:
    # In the child, after setsid(): stdin (the pty) becomes the session's controlling terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_in_pty(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 300.0,
    columns: int = 80,
    stdin_text: str | None = None,
    answer: tuple[str, str] | list[tuple[str, str]] | None = None,
) -> tuple[int, str]:
    """Run `argv` with stdin, stdout and stderr on a pty; return (exit code, screen text).
    `answer` (prompt, text): type `text` once `prompt` is on the screen (a prompt that turns
    echo off, as getpass does, flushes what was typed before it); a list answers each prompt
    in turn."""
    proc, main_fd = _spawn(argv, cwd, env, columns, 40)
    if stdin_text is not None:
        os.write(main_fd, stdin_text.encode())
    answers = [answer] if isinstance(answer, tuple) else list(answer or [])
    chunks: list[bytes] = []
    shown = 0  # the screen up to here answered a prompt already
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if ready:
                try:
                    data = os.read(main_fd, 65536)
                except OSError:  # EIO: the child closed its side
                    break
                if not data:
                    break
                chunks.append(data)
                screen = b"".join(chunks)
                if answers and answers[0][0].encode() in screen[shown:]:
                    os.write(main_fd, answers.pop(0)[1].encode())
                    shown = len(screen)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{argv} still running after {timeout_s} s under a pty")
        code = proc.wait(timeout=30)
    finally:
        os.close(main_fd)
    return code, b"".join(chunks).decode("utf-8", "replace")


class PtySession:
    """A command on a pseudo-terminal that a test types into, answering what it shows."""

    def __init__(
        self, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, columns: int = 80
    ) -> None:
        self.proc, self._fd = _spawn(argv, cwd, env, columns, 24)
        self.screen = ""

    def _read(self, wait_s: float) -> bool:
        """Read what is shown within `wait_s`; False once the child closed its side."""
        ready, _, _ = select.select([self._fd], [], [], wait_s)
        if not ready:
            return True
        try:
            data = os.read(self._fd, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        self.screen += data.decode("utf-8", "replace")
        return bool(data)

    def expect(self, text: str, timeout_s: float = 120.0) -> str:
        """Wait until `text` has been shown since the last `expect` (bounded); return what was
        shown up to it, `text` included."""
        deadline = time.monotonic() + timeout_s
        while text not in self.screen:
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{text!r} never shown; the screen:\n{self.screen}")
        end = self.screen.index(text) + len(text)
        shown, self.screen = self.screen[:end], self.screen[end:]
        return shown

    def type(self, data: bytes) -> None:
        """Type `data` on the terminal's keyboard (b"\\x03" is Ctrl-C, b"\\x04" Ctrl-D)."""
        os.write(self._fd, data)

    def finish(self, timeout_s: float = 120.0) -> tuple[int, str]:
        """Wait for the command to end; return its exit code and what it showed since the last
        `expect`."""
        deadline = time.monotonic() + timeout_s
        try:
            while self._read(0.2):
                if self.proc.poll() is not None and not select.select([self._fd], [], [], 0)[0]:
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    raise AssertionError(f"still running after {timeout_s} s:\n{self.screen}")
            return self.proc.wait(timeout=30), self.screen
        finally:
            os.close(self._fd)
