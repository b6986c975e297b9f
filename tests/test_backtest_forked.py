"""A finished backtest's report is written by a forked child while the command writes the
exports: the files are those written in one process, and what goes wrong in the child is
raised in the command as it would have been there (a path refused names the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backtest_support import write_config
from tradeguard.backtest import forked

# The backtest's runner and the config are imported where used: the checks below also run in
# a fresh interpreter importing this module, which needs only `forked`.


def _double(x: int) -> tuple[int, int]:
    return x * 2, os.getpid()


def _refuse(path: str) -> None:
    Path(path).write_text("x", encoding="utf-8")


class _Unpicklable(Exception):
    def __reduce__(self):  # type: ignore[override]
        raise TypeError("no pickling")


def _raise_unpicklable() -> None:
    raise _Unpicklable("lost in the pipe")


def _check_the_child_answers_from_another_process():
    job = forked.start(_double, 21)
    assert job is not None
    value, pid = forked.join(job)
    assert value == 42
    assert pid != os.getpid()


def _check_an_os_error_in_the_child_is_raised_with_its_path(tmp_path: Path):
    target = tmp_path / "report.html"
    target.mkdir()
    job = forked.start(_refuse, str(target))
    assert job is not None
    with pytest.raises(IsADirectoryError) as caught:
        forked.join(job)
    assert caught.value.filename == str(target)


def _check_an_error_that_does_not_pickle_arrives_as_its_text():
    job = forked.start(_raise_unpicklable)
    assert job is not None
    with pytest.raises(RuntimeError, match="_Unpicklable: lost in the pipe"):
        forked.join(job)


def test_no_child_is_forked_while_other_threads_run():
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert forked.start(_double, 1) is None
    finally:
        stop.set()
        worker.join()


def _small_run(tmp_path: Path, name: str):
    from tradeguard.backtest.runner import BacktestWindow, run_backtest
    from tradeguard.config import load_config

    config = load_config(write_config(tmp_path, pairs=("ETH",)))
    window = BacktestWindow(start_ms=1_515_715_200_000, end_ms=1_515_801_600_000)
    return run_backtest(config, tmp_path / name, window)


# `forked.start` forks only a process with no other thread (a fork carries one thread over);
# threads an earlier test left in the test process (an executor's, a client's) would make it
# run the call itself, so the checks that fork in-process run in a fresh interpreter: one for
# them all, each check's outcome (None: passed, else its traceback) printed as JSON.
FRESH = """
import json, sys, traceback
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import test_backtest_forked as t
outcomes = {}
for check in sys.argv[3:]:
    try:
        getattr(t, check)(*([Path(sys.argv[2], check)] if check in t.TAKE_A_FOLDER else []))
        outcomes[check] = None
    except BaseException:
        outcomes[check] = traceback.format_exc()
print(json.dumps(outcomes))
"""
FRESH_CHECKS = (
    "_check_the_child_answers_from_another_process",
    "_check_an_os_error_in_the_child_is_raised_with_its_path",
    "_check_an_error_that_does_not_pickle_arrives_as_its_text",
    "_check_an_exception_in_the_child_keeps_where_it_was_raised",
)
TAKE_A_FOLDER = ("_check_an_os_error_in_the_child_is_raised_with_its_path",)


@pytest.fixture(scope="module")
def fresh_outcomes(tmp_path_factory) -> dict[str, str | None]:
    folder = tmp_path_factory.mktemp("fresh")
    for check in TAKE_A_FOLDER:
        (folder / check).mkdir()
    argv = [sys.executable, "-c", FRESH, str(Path(__file__).parent), str(folder), *FRESH_CHECKS]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes: dict[str, str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(outcomes) == sorted(FRESH_CHECKS), done.stdout[-3000:]
    return outcomes


def _passed(outcomes: dict[str, str | None], check: str) -> None:
    assert outcomes[check] is None, outcomes[check]


def test_the_forked_report_is_the_one_written_in_process(tmp_path, data_dir):
    from tradeguard.backtest.runner import write_outputs

    a, b = _small_run(tmp_path, "a"), _small_run(tmp_path, "b")
    in_process = write_outputs(a, "Report")
    in_child = write_outputs(b, "Report", parallel=True)
    assert [p.name for p in in_process] == [p.name for p in in_child]
    report_a = (a.run_dir / "report.html").read_text(encoding="utf-8")
    report_b = (b.run_dir / "report.html").read_text(encoding="utf-8")
    assert len(report_a) > 1000
    assert report_a.replace("/a", "/b") == report_b.replace("/a", "/b")


def test_a_report_path_the_command_cannot_write_is_named_exit_1(tmp_path, data_dir):
    config = write_config(tmp_path, pairs=("ETH",))
    out = tmp_path / "run"
    # The run directory must start empty: the report's path is taken as the run starts.
    code = (
        "import os, runpy, sys, threading\n"
        "from tradeguard.backtest import runner\n"
        "real = runner.write_outputs\n"
        "def blocked(result, title, parallel=False):\n"
        "    os.mkdir(result.run_dir / 'report.html')\n"
        "    return real(result, title, parallel)\n"
        "runner.write_outputs = blocked\n"
        "sys.argv = ['tradeguard', *sys.argv[1:]]\n"
        "runpy.run_module('tradeguard.cli', run_name='__main__')\n"
    )
    argv = ["backtest", "--config", str(config), "--out", str(out), "--json"]
    window = ["--from", "2018-01-12", "--to", "2018-01-13"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, *window], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr
    assert f"{out / 'report.html'}: Is a directory" in done.stderr
    assert "Traceback" not in done.stderr
    assert (out / "metrics.json").is_file()  # the exports, written beside it, are whole


def _run_with(tmp_path: Path, before_outputs: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The console script's backtest, `before_outputs` (code over `result.run_dir`) run just
    before the run's files are written."""
    config = write_config(tmp_path, pairs=("ETH",))
    out = tmp_path / "run"
    code = (
        "import os, runpy, signal, sys\n"
        "from tradeguard.backtest import report, runner\n"
        "real = runner.write_outputs\n"
        "def patched(result, title, parallel=False):\n"
        f"    {before_outputs}\n"
        "    return real(result, title, parallel)\n"
        "runner.write_outputs = patched\n"
        "sys.argv = ['tradeguard', *sys.argv[1:]]\n"
        "runpy.run_module('tradeguard.cli', run_name='__main__')\n"
    )
    argv = ["backtest", "--config", str(config), "--out", str(out), "--json"]
    window = ["--from", "2018-01-12", "--to", "2018-01-13"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, *window], capture_output=True, text=True, timeout=300
    )
    return done, out


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("name", ["report.html", "equity.json", "trades.csv"])
def test_a_full_disk_under_a_file_of_the_run_is_named_exit_1(tmp_path, data_dir, name):
    # /dev/full answers every write with ENOSPC, as a full disk does: the error carries no
    # path of its own (it comes from write, not open), so the file must be named for it. Each
    # file is written to a temporary one beside it (renamed once whole): that one is the device.
    part = f".{name}.part"
    done, out = _run_with(tmp_path, f"os.symlink('/dev/full', result.run_dir / {part!r})")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{out / name}: No space left on device" in done.stderr
    assert not (out / name).exists() and not (out / part).exists()  # no half file, no temp
    assert (out / "INCOMPLETE").is_file()


def test_a_report_child_killed_is_named_exit_1(tmp_path, data_dir):
    # The child writing the report dies without an answer (the OOM killer, a kill -9).
    done, out = _run_with(
        tmp_path, "report.write_report = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{out / 'report.html'}: not written" in done.stderr
    assert "SIGKILL" in done.stderr


# A process that forks a child sleeping for a minute, prints its pid and waits to be killed.
SLEEPER = """
import sys, time
from tradeguard.backtest import forked
job = forked.start(time.sleep, 60)
print(job[0], flush=True)
time.sleep(60)
"""


def test_a_command_killed_while_its_child_writes_leaves_no_child():
    """kill -9 of the command while the report's child worked left the child writing on
    alone (no one to hear its answer)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # ended, not yet reaped
        except OSError:
            break
        time.sleep(0.01)
    else:
        os.kill(child, signal.SIGKILL)  # the pid this test's own process forked
        raise AssertionError("the child lived on after the command was killed")


def _raise_value_error() -> None:
    raise ValueError("a figure the report cannot show")


def _check_an_exception_in_the_child_keeps_where_it_was_raised():
    """A bug in the report's code raised in the child reached the command without its
    traceback (a pickled exception has none): the traceback printed named only `join`."""
    job = forked.start(_raise_value_error)
    assert job is not None
    with pytest.raises(ValueError, match="cannot show") as caught:
        forked.join(job)
    notes = "\n".join(getattr(caught.value, "__notes__", ()))
    assert "in _raise_value_error" in notes
    assert "test_backtest_forked.py" in notes


# In a cgroup allowing one process: the system refuses every fork (EAGAIN), as a full
# process table or a container's pids.max does.
AT_THE_LIMIT = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
Path(sys.argv[1], "cgroup.procs").write_text("0")  # this process joins the cgroup
from tradeguard.backtest import forked, prefetch
from test_backtest_forked import _double
print(json.dumps([forked.start(_double, 1), prefetch._start([sys.argv[3]])]))
"""


def test_a_fork_the_system_refuses_leaves_the_work_to_the_command(tmp_path):
    """At the process limit the reader's and the report's forks raised BlockingIOError, a
    traceback ending the backtest, where the command can do both jobs itself."""
    import uuid

    pids = Path("/sys/fs/cgroup/pids")
    group = pids / f"tradeguard-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
        (group / "pids.max").write_text("1")
    except OSError:
        pytest.skip("needs a writable cgroup v1 pids controller (root)")
    data = tmp_path / "ETH_BTC-5m.feather"
    data.write_bytes(b"")
    try:
        done = subprocess.run(
            [sys.executable, "-c", AT_THE_LIMIT, str(group), str(Path(__file__).parent), str(data)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},  # numpy's threads: refused too
        )  # fmt: skip
    finally:
        group.rmdir()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[null, false]"


def test_the_child_answers_from_another_process(fresh_outcomes):
    _passed(fresh_outcomes, "_check_the_child_answers_from_another_process")


def test_an_os_error_in_the_child_is_raised_with_its_path(fresh_outcomes):
    _passed(fresh_outcomes, "_check_an_os_error_in_the_child_is_raised_with_its_path")


def test_an_error_that_does_not_pickle_arrives_as_its_text(fresh_outcomes):
    _passed(fresh_outcomes, "_check_an_error_that_does_not_pickle_arrives_as_its_text")


def test_an_exception_in_the_child_keeps_where_it_was_raised(fresh_outcomes):
    _passed(fresh_outcomes, "_check_an_exception_in_the_child_keeps_where_it_was_raised")
