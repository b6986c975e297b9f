"""The console script ends the process without tearing the interpreter down, as sys.exit would
end it otherwise: exit handlers run, output is flushed, the exit code is the command's."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

cli_main = importlib.import_module("tradeguard.cli.main")  # the module, not its main()

# A child that registers an exit handler, then runs the command line as the console script does.
CHILD = """
import atexit, sys
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
sys.argv = ["tradeguard", *sys.argv[1:]]
from tradeguard.cli.main import run
run()
"""


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=60
    )


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _fake_exit(code: int) -> None:
    raise _Exited(code)


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()  # run() freezes what is alive, here the test session


def test_console_script_skips_the_interpreter_teardown(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(cli_main, "main", lambda: 3)
    monkeypatch.setattr(cli_main.threading, "active_count", lambda: 1)  # pytest may run others
    monkeypatch.setattr(cli_main.atexit, "_run_exitfuncs", lambda: ran.append("handlers"))
    monkeypatch.setattr(cli_main.os, "_exit", _fake_exit)
    with pytest.raises(_Exited) as ended:
        cli_main.run()
    assert ended.value.code == 3
    assert ran == ["handlers"]  # the exit handlers ran before the process ended


def test_console_script_waits_for_a_running_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "main", lambda: 0)
    monkeypatch.setattr(cli_main.os, "_exit", _fake_exit)
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    worker.start()
    try:
        with pytest.raises(SystemExit) as ended:  # the interpreter's shutdown joins it
            cli_main.run()
    finally:
        release.set()
        worker.join()
    assert ended.value.code == 0


def test_output_and_exit_handlers_survive_the_quick_exit() -> None:
    done = _run("config", "check", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("example: tradeguard config check examples/paper.toml")
    assert "exit handler ran" in done.stderr


def test_quick_exit_keeps_the_commands_exit_code(tmp_path) -> None:
    done = _run("backtest", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr  # a config error
    assert done.stderr.startswith("tradeguard: ")
    assert "exit handler ran" in done.stderr
