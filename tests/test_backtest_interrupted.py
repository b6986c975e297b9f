"""A backtest stopped while it writes its run directory leaves a directory that says so.

Ctrl-C (or a kill) during the exports or the report used to leave metrics.json, trades and
the equity curve in place: `backtest compare` took the run for a finished one. Now each file
is written whole (temporary file, then rename), metrics.json last, and the directory holds
an INCOMPLETE mark until every file is in; `compare` refuses a marked directory, naming it.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from backtest_support import write_config
from pty_support import PtySession
from tradeguard.backtest.exports import INCOMPLETE, mark_complete, mark_incomplete, read_run
from tradeguard.model.errors import ConfigError

WINDOW = ["--from", "2018-01-12", "--to", "2018-01-13"]
AT_STEP = "AT-THE-STEP"

# Runs the console script with one step of the run directory's finish made to wait (it says
# so on the terminal first), so the test can press Ctrl-C or kill it exactly there.
SCRIPT = """
import sys, time
import tradeguard.backtest.exports as exports
import tradeguard.backtest.report as report
from tradeguard.cli import run

step = sys.argv.pop(1)
module, name = (exports, "_equity_files") if step == "equity" else (report, "write_report")
real = getattr(module, name)

def waiting(*args, **kwargs):
    print("AT-THE-STEP", flush=True)
    # in short sleeps, as a real write's system calls are: a Ctrl-C that lands between the
    # interpreter's last look at its signals and the call into one sleep is seen when it ends
    for _ in range(1200):
        time.sleep(0.05)
    return real(*args, **kwargs)

setattr(module, name, waiting)
sys.argv[0] = "tradeguard"
run()
"""


def _start(tmp_path: Path, step: str) -> tuple[PtySession, Path]:
    cfg = write_config(tmp_path, pairs=("ETH",))
    script = tmp_path / "waiting_backtest.py"
    script.write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "run"
    argv = [sys.executable, str(script), step, "backtest", "--config", str(cfg),
            "--out", str(out), *WINDOW]  # fmt: skip
    session = PtySession(argv, cwd=tmp_path)
    session.expect(AT_STEP, timeout_s=240)
    return session, out


def _refused_by_compare(out: Path, tmp_path: Path) -> None:
    from tradeguard.cli.main import main

    html = tmp_path / "cmp.html"
    assert main(["backtest", "compare", str(out), str(out), "--html", str(html)]) == 2
    assert not html.exists()
    with pytest.raises(ConfigError, match=f"{out / INCOMPLETE}: the run was stopped"):
        read_run(out)


@pytest.mark.parametrize("step", ["equity", "report"])
def test_ctrl_c_while_the_run_directory_is_written_exits_130_and_marks_it(
    tmp_path: Path, data_dir: Path, capsys, step: str
) -> None:
    session, out = _start(tmp_path, step)
    session.type(b"\x03")
    code, screen = session.finish(timeout_s=60)
    assert code == 130, screen
    assert (
        "tradeguard backtest: stopped by Ctrl-C; its run directory" in screen
        and "Traceback" not in screen
    ), screen
    assert (out / INCOMPLETE).is_file()
    assert not (out / "metrics.json").exists() or step == "report"
    assert not list(out.glob(".*.part")), list(out.iterdir())  # no half file left behind
    if step == "equity":  # written before the step: whole files
        assert json.loads((out / "trades.json").read_text()) is not None
    _refused_by_compare(out, tmp_path)
    assert "INCOMPLETE" in capsys.readouterr().err


def test_a_run_killed_while_its_report_is_written_is_marked_incomplete(
    tmp_path: Path, data_dir: Path
) -> None:
    session, out = _start(tmp_path, "report")
    session.proc.send_signal(signal.SIGKILL)
    assert session.proc.wait(timeout=30) == -signal.SIGKILL
    time.sleep(0.2)  # the forked report child dies with its parent
    assert (out / INCOMPLETE).is_file()
    _refused_by_compare(out, tmp_path)


def test_the_mark_comes_and_goes_and_a_finished_run_reads(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"trades": 1}')
    (tmp_path / "equity.json").write_text("[]")
    mark_incomplete(tmp_path)
    with pytest.raises(ConfigError, match="INCOMPLETE"):
        read_run(tmp_path)
    mark_complete(tmp_path)
    assert read_run(tmp_path) == ({"trades": 1}, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["equity.json", "metrics.json"]
