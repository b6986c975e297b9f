"""After a backtest the console script ends the process without tearing the interpreter down:
exit handlers run, output is flushed, the exit code is the command's."""

from __future__ import annotations

import gc
import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from backtest_support import write_config

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
def _unfreeze(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # run() marks the process as the command's own: left set, every later in-process command
    # of the session froze the collector for good (each database's checkpoint thread then
    # outlived its test) and left its Ctrl-C handler installed.
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", False)
    yield
    gc.unfreeze()  # run() freezes what is alive, here the test session


def test_console_script_skips_the_interpreter_teardown(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(cli_main.sys, "argv", ["tradeguard", "backtest", "--config", "x.toml"])
    monkeypatch.setattr(cli_main, "main", lambda: 3)
    monkeypatch.setattr(cli_main.threading, "active_count", lambda: 1)  # pytest may run others
    monkeypatch.setattr(cli_main.atexit, "_run_exitfuncs", lambda: ran.append("handlers"))
    monkeypatch.setattr(cli_main.os, "_exit", _fake_exit)
    with pytest.raises(_Exited) as ended:
        cli_main.run()
    assert ended.value.code == 3
    assert ran == ["handlers"]  # the exit handlers ran before the process ended


def test_other_commands_exit_through_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    # A command that may leave a file to the teardown to flush and close.
    monkeypatch.setattr(cli_main.sys, "argv", ["tradeguard", "sandbox"])
    monkeypatch.setattr(cli_main, "main", lambda: 0)
    monkeypatch.setattr(cli_main.threading, "active_count", lambda: 1)
    monkeypatch.setattr(cli_main.os, "_exit", _fake_exit)
    with pytest.raises(SystemExit) as ended:
        cli_main.run()
    assert ended.value.code == 0


def test_console_script_waits_for_a_running_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main.sys, "argv", ["tradeguard", "backtest"])
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


def test_output_and_exit_handlers_survive_the_quick_exit(tmp_path, data_dir) -> None:
    cfg = write_config(tmp_path)
    done = _run("backtest", "--config", str(cfg), "--out", str(tmp_path / "run"), "--json",
                "--from", "2018-01-12", "--to", "2018-01-13")  # fmt: skip
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)  # the whole JSON reached the pipe
    assert metrics["candles"] == 2 * 288
    assert (tmp_path / "run" / "report.html").read_text(encoding="utf-8").endswith("</html>")
    assert "exit handler ran" in done.stderr


def test_quick_exit_keeps_the_commands_exit_code(tmp_path) -> None:
    done = _run("backtest", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path))
    assert done.returncode == 2, done.stderr  # a config error
    assert done.stderr.startswith("tradeguard: ")
    assert "exit handler ran" in done.stderr


def test_the_tests_above_leave_the_session_no_console_script() -> None:
    # Last in the file, after the tests that call run(). Before, the session stayed marked as
    # the command's own process: every later in-process backtest froze the collector for good
    # and installed its Ctrl-C handler, so the databases later tests left to the collector were
    # never collected and their checkpoint threads piled up until a test ran out of time.
    assert not cli_main.whole_process()
