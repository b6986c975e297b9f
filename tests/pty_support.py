"""Run a command under a pseudo-terminal, as a user's shell would, and collect what it shows."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path


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
    env = dict(os.environ if env is None else env)
    env.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40"})
    env.pop("NO_COLOR", None)
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=child_fd, stdout=child_fd, stderr=child_fd,
        start_new_session=True,
    )  # fmt: skip
    os.close(child_fd)
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
