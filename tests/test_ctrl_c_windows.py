"""A Ctrl-C landing inside a command's progress bar (its start or stop), in the run it shows,
or as the process ends: the command still ends with its one line and 130, and a backtest's
directory is marked INCOMPLETE.

A terminal cannot time these windows (a few bytecodes wide, hit only on a loaded machine), so
the Ctrl-C is raised where it landed: in rich's console as the bar starts, in the progress
callback as the backtest runs."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from backtest_support import write_config
from cli_support import run_cli
from tradeguard.cli.bar import progress_bar


@pytest.mark.parametrize("landing", range(1, 12))  # 11 times a bar's start and stop open it
def test_a_ctrl_c_in_the_bar_leaves_the_terminal_writable(
    landing: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `landing`-th time the console opens its output buffer as the bar starts or stops, a
    Ctrl-C:
    stdout and stderr are the process's own again and what is printed next is shown (it
    stayed in rich's buffer, and the command's "stopped by Ctrl-C" line with it)."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    opened = 0
    enter = Console._enter_buffer

    def enter_then_ctrl_c(self: Console) -> None:
        nonlocal opened
        enter(self)
        opened += 1
        if opened == landing:
            raise KeyboardInterrupt

    monkeypatch.setattr(Console, "_enter_buffer", enter_then_ctrl_c)
    out, err = sys.stdout, sys.stderr
    with pytest.raises(KeyboardInterrupt), progress_bar(console, "backtest"):
        pass
    assert (sys.stdout, sys.stderr) == (out, err)
    console.print("the line after")
    assert "the line after" in screen.getvalue()


def test_a_ctrl_c_as_the_backtest_runs_marks_its_run_directory(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Stopped with its database written and no result: the run directory says INCOMPLETE
    (compare refuses it), as the line says."""
    from tradeguard.backtest import runner

    run = runner.run_backtest

    def ctrl_c_at_the_first_candles(*args: Any, **kwargs: Any) -> Any:
        def progress(done: int, total: int) -> None:
            raise KeyboardInterrupt

        return run(*args[:3], progress, **kwargs)

    monkeypatch.setattr(runner, "run_backtest", ctrl_c_at_the_first_candles)
    cfg = write_config(tmp_path, pairs=("ETH",))
    out = tmp_path / "run"
    done = run_cli(capsys, "backtest", "--config", str(cfg), "--out", str(out),
                   "--from", "2018-01-12", "--to", "2018-01-13")  # fmt: skip
    assert done.returncode == 130, done
    assert done.stderr.startswith("tradeguard backtest: stopped by Ctrl-C"), done
    assert (out / "backtest.db").exists()
    assert (out / "INCOMPLETE").is_file()
    compared = run_cli(capsys, "backtest", "compare", str(out), "--html", str(tmp_path / "c.html"))
    assert compared.returncode == 2 and "INCOMPLETE" in compared.stderr, compared


def test_the_ctrl_c_line_said_more_presses_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a Ctrl-C's line is said the process ends with 130: another press, landing in the
    interpreter's shutdown (SIGINT's default handler again), killed it by the signal instead
    (`tradeguard run`, a paper replay stopped as its node opened). In this process, as the
    console script's."""
    import importlib
    import signal

    cli_main = importlib.import_module("tradeguard.cli.main")  # the module, not its `main`
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", True)
    before = signal.getsignal(signal.SIGINT)
    try:
        assert cli_main._say_interrupted(["run"], KeyboardInterrupt()) == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_run_stopped_whole_by_ctrl_c_ignores_more_presses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A live or sandbox run's first Ctrl-C ends it whole (its checkpoint, summary, then its line
    and 130): a press after that line, landing in the interpreter's shutdown as it waits for the
    run's threads, printed a KeyboardInterrupt there. Ignored, as after every other Ctrl-C line."""
    import importlib
    import signal

    from tradeguard.cli.interrupted import say_stopped

    cli_main = importlib.import_module("tradeguard.cli.main")
    monkeypatch.setattr(cli_main, "_WHOLE_PROCESS", True)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # asyncio.run gives it back
    try:
        assert say_stopped(["run"]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_leaves_a_directory_the_backtest_did_not_make_unmarked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out` naming a directory with files already (refused, never written): a Ctrl-C as the
    backtest starts leaves it as it was, no INCOMPLETE (compare would refuse a finished run)."""
    from tradeguard.backtest import runner

    def ctrl_c(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_backtest", ctrl_c)
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    cfg = write_config(tmp_path, pairs=("ETH",))
    done = run_cli(capsys, "backtest", "--config", str(cfg), "--out", str(out))
    assert done.returncode == 130, done
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
