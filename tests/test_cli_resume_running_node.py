"""`tradeguard resume` beside a running node says so before it asks for RESUME.

It asked the user to type RESUME first and only then found the node's writer lock and refused:
a halted user typed the confirmation for nothing, then learned to resume through the API.
"""

from __future__ import annotations

import io
import sys

from tradeguard.cli.main import main
from tradeguard.storage.db import Database
from tradeguard.storage.lock import acquire_writer_lock


class _Terminal(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def isatty(self) -> bool:
        return True

    def readline(self, *args: object) -> str:
        self.asked += 1
        return "RESUME\n"


def test_resume_beside_a_running_node_refuses_before_the_prompt(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    Database(url).dispose()  # the node's database exists
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdin", terminal)
    lock = acquire_writer_lock(url)  # what a running node holds
    try:
        code = main(["resume", "--db", url, "--reason", "drill over"])
    finally:
        assert lock is not None
        lock.release()
    out = capsys.readouterr()
    assert code != 0 and "POST /api/v1/resume" in out.out + out.err, out
    assert terminal.asked == 0 and "Type RESUME" not in out.out, out
