"""`tradeguard backtest` as the console script reads its feather files in a second process: the
run is the one the command makes reading them itself, its own process never imports pyarrow,
and a file the reader cannot take cleanly is read and refused as before, naming the row."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from backtest_support import ROOT, write_config
from tradeguard.backtest import prefetch
from tradeguard.cli.main import EXIT_ERROR, main
from tradeguard.marketdata.data_files import resolve_data_path

# The console script (cli/__main__.py -> run()), reporting which pyarrow modules it loaded.
CONSOLE = (
    "import atexit, json, runpy, sys\n"
    "sys.argv = ['tradeguard', *sys.argv[1:]]\n"
    "atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules "
    "if m.split('.')[0] == 'pyarrow')), file=sys.stderr))\n"
    "runpy.run_module('tradeguard.cli', run_name='__main__')\n"
)


T = 1_640_995_200_000


def _console(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CONSOLE, *argv], capture_output=True, text=True, timeout=600
    )


def _compare_runs():  # benchmarks/compare_runs.py: every table, export and the report
    path = ROOT / "benchmarks" / "compare_runs.py"
    spec = importlib.util.spec_from_file_location("compare_runs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare


def test_the_console_script_runs_the_same_backtest_from_the_second_process(tmp_path, data_dir):
    config = write_config(tmp_path, pairs=("ETH", "ADA"))
    window = ["--from", "2018-01-12", "--to", "2018-01-15", "--json"]
    done = _console("backtest", "--config", str(config), "--out", str(tmp_path / "a"), *window)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []  # candles made from its columns
    assert json.loads(done.stdout)["trades"] > 0
    # main() called from other code reads the files itself, in its own process
    assert main(["backtest", "--config", str(config), "--out", str(tmp_path / "b"), *window]) == 0
    assert _compare_runs()(tmp_path / "a", tmp_path / "b")["differs"] == []


def test_a_bad_row_is_refused_by_the_console_script_as_by_the_command(tmp_path, capsys):
    bad = tmp_path / "ETH_BTC-5m.feather"
    table = {
        "date": [T + t for t in (0, 300_000, 600_000)],  # from 2022-01-01
        "open": [0.1, 0.11, 0.12],
        "high": [0.15, 0.15, 0.15],
        "low": [0.09, 0.09, 0.09],
        "close": [0.11, 0.16, 0.13],  # row 2 closes above its high
        "volume": [10.0, 11.0, 12.0],
    }
    feather.write_feather(pa.table(table), bad)
    config = write_config(tmp_path, pairs=("ETH",))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"candles/ETH_BTC-5m.feather"', f'"{bad}"'), encoding="utf-8")
    done = _console("backtest", "--config", str(config), "--out", str(tmp_path / "a"), "--json")
    assert done.returncode == EXIT_ERROR  # a data file's error, not the config's
    assert main(["backtest", "--config", str(config), "--out", str(tmp_path / "b")]) == EXIT_ERROR
    message = capsys.readouterr().err.strip()
    assert "row 2: inconsistent bar" in message
    assert done.stderr.splitlines()[0] == message


def test_nothing_is_collected_when_no_reader_was_started():
    assert prefetch.collect() == {}


# start() and collect() as the command calls them, then the file replaced by one of the same
# modification time (rsync -a, cp -p or tar put a file in place with its source's time) before
# the command makes its candles; prints the closes it made.
REPLACED = """
import json, os, sys
import pyarrow as pa, pyarrow.feather as feather
from tradeguard.backtest import frames, prefetch
from tradeguard.config import load_config
config = load_config(sys.argv[1])
path, symbol = sys.argv[2], config.data[0].symbol
assert prefetch.start(config)
read = prefetch.collect()
assert path in read, read
table = feather.read_table(path)
newer = path + ".new"
feather.write_feather(table.set_column(4, "close", pa.array([0.12, 0.13, 0.14])), newer)
before = os.stat(path)
os.utime(newer, ns=(before.st_atime_ns, before.st_mtime_ns))
os.replace(newer, path)
candles = frames._cached_candles(path, symbol, read)
print(json.dumps([str(c.close) for c in candles]))
"""


def test_a_file_replaced_since_the_reader_read_it_is_read_again(tmp_path):
    data = tmp_path / "ETH_BTC-5m.feather"
    table = {
        "date": [T + t for t in (0, 300_000, 600_000)],  # from 2022-01-01
        "open": [0.1, 0.11, 0.12],
        "high": [0.15, 0.15, 0.15],
        "low": [0.09, 0.09, 0.09],
        "close": [0.11, 0.12, 0.13],
        "volume": [10.0, 11.0, 12.0],
    }
    feather.write_feather(pa.table(table), data)
    config = write_config(tmp_path, pairs=("ETH",))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"candles/ETH_BTC-5m.feather"', f'"{data}"'), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", REPLACED, str(config), str(data)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["0.12", "0.13", "0.14"]  # the file as it is now


def _long_feather(path, rows: int) -> None:
    """A clean candle file long enough that reading it takes a while."""
    import numpy as np

    rng = np.random.default_rng(7)
    close = 0.05 + np.cumsum(rng.normal(0, 1e-6, rows)).clip(-0.04, None)
    opened = np.concatenate([close[:1], close[:-1]])
    table = {
        "date": 1_515_715_200_000 + np.arange(rows, dtype=np.int64) * 300_000,
        "open": opened,
        "high": np.maximum(opened, close) + 1e-7,
        "low": np.minimum(opened, close) - 1e-7,
        "close": close,
        "volume": rng.random(rows) * 100,
    }
    feather.write_feather(pa.table(table), path)


@pytest.fixture(scope="module")
def million_rows(tmp_path_factory):
    """A clean candle file of a million rows (some 40 MB, 0.7 s of CPU to make), made once for
    the module: the tests only read it."""
    path = tmp_path_factory.mktemp("long") / "ETH_BTC-5m.feather"
    _long_feather(path, 1_000_000)
    return path


def test_ctrl_c_while_the_files_are_read_interrupts_the_backtest(tmp_path, million_rows):
    """Ctrl-C as the candles were read (inside the backtest's event loop) only asked the loop
    to cancel, a request the start's reconciliation dropped (asyncio.wait_for of an answer
    already there, Python 3.11): the reader was stopped, the command read the files itself and
    ran the backtest to its end, exit 0."""
    from pathlib import Path

    from pty_support import PtySession

    data = million_rows
    config = write_config(tmp_path, pairs=("ETH",))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"candles/ETH_BTC-5m.feather"', f'"{data}"'), encoding="utf-8")
    exe = str(Path(sys.executable).parent / "tradeguard")
    argv = [exe, "backtest", "--config", str(config), "--out", str(tmp_path / "run")]
    session = PtySession([*argv, "--from", "2018-01-12", "--to", "2018-01-15"], cwd=tmp_path)
    pid = session.proc.pid
    _wait_for_the_reader(pid)  # in the backtest's event loop, waiting for the reader's columns
    session.type(b"\x03")
    code, rest = session.finish(timeout_s=600)
    assert "Traceback" not in rest, rest
    assert "tradeguard backtest: stopped by Ctrl-C" in rest and code == 130, (code, rest)
    assert not (tmp_path / "run" / "metrics.json").exists()
    _wait_gone(str(config))  # no reader left running on after the command


def _wait_gone(marker: str) -> None:
    """Wait until no process has `marker` on its command line (generous: a loaded machine)."""
    import os
    import time

    def running() -> list[str]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(pid)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 60
    while (left := running()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], left


def _wait_for_the_reader(pid: int) -> None:
    """Wait until `pid` is blocked waiting for its reader process to end, as /proc shows it."""
    import platform
    import time

    wait4 = {"x86_64": "61", "aarch64": "260"}[platform.machine()]  # the system call's number
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall", encoding="ascii") as f:
                call = f.read().split()
            if call[0] == wait4 and int(call[1], 16) not in (0, 2**64 - 1):  # a pid named
                return
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.01)
    raise AssertionError("the command never waited for the reader")


# start_file() reads the [[data]] entries from the file as written before any model is built;
# prints the paths the reader sent and whether pydantic was loaded by then.
FROM_FILE = """
import json, sys
from tradeguard.backtest import prefetch
started = prefetch.start_file(sys.argv[1])
models = "pydantic" in sys.modules
read = prefetch.collect()
print(json.dumps([started, models, sorted(read)]))
"""


def test_the_reader_starts_from_the_config_file_before_any_model_is_built(tmp_path):
    data = tmp_path / "ETH_BTC-5m.feather"
    _long_feather(data, 500)
    config = write_config(tmp_path, pairs=("ETH", "ADA"))
    # ETH's file next to the config (found there first), ADA's from the data directory
    text = config.read_text(encoding="utf-8").replace(
        '"candles/ETH_BTC-5m.feather"', '"ETH_BTC-5m.feather"'
    )
    config.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", FROM_FILE, str(config)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    started, models, read = json.loads(done.stdout)
    assert started and not models
    assert read == sorted([str(data), str(resolve_data_path("candles/ADA_BTC-5m.feather"))])


def test_a_config_the_reader_cannot_take_plainly_starts_no_reader(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "backtest"\ndata = "not a table"\n', encoding="utf-8")
    assert prefetch.start_file(str(bad)) is False
    assert prefetch.start_file(str(tmp_path / "missing.toml")) is False
    assert prefetch.collect() == {}


def test_a_config_refused_after_the_reader_started_leaves_no_reader(tmp_path):
    data = tmp_path / "ETH_BTC-5m.feather"
    _long_feather(data, 1_000)
    config = write_config(tmp_path, pairs=("ETH",))
    text = config.read_text(encoding="utf-8").replace('"candles/ETH_BTC-5m.feather"', f'"{data}"')
    config.write_text(text.replace("max_open_positions = 7", "max_open_positions = -3"), "utf-8")
    done = _console("backtest", "--config", str(config), "--out", str(tmp_path / "run"))
    assert done.returncode == 2, done.stderr
    assert "max_open_positions" in done.stderr
    _wait_gone(str(config))


def test_a_config_that_is_no_regular_file_is_refused_not_waited_on(tmp_path):
    """A FIFO given as --config (no writer) hung the console script in the reader's read of
    it, before load_config could refuse it as it always had (exit 2, naming it)."""
    import os

    fifo = tmp_path / "bt.toml"
    os.mkfifo(fifo)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CONSOLE, "backtest", "--config", str(fifo)],
            capture_output=True, text=True, timeout=120,  # a start takes 20 s at load 17
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise AssertionError("the command waited on the FIFO") from None
    assert done.returncode == 2, done.stderr
    assert f"config file {fifo} does not exist" in done.stderr


def _children(parent: int) -> list[int]:
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(pid))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_command_killed_while_the_reader_reads_leaves_no_reader(tmp_path, million_rows, signum):
    """`kill` (or kill -9, the OOM killer) of the command as its reader read a long file left
    the reader reading on alone for as long as the file took (13-15 s for a million rows)."""
    import os
    import time
    from pathlib import Path

    data = million_rows
    config = write_config(tmp_path, pairs=("ETH",))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"candles/ETH_BTC-5m.feather"', f'"{data}"'), encoding="utf-8")
    exe = str(Path(sys.executable).parent / "tradeguard")
    argv = [exe, "backtest", "--config", str(config), "--out", str(tmp_path / "run")]
    command = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (readers := _children(command.pid)) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert readers, "no reader was forked"
    time.sleep(0.2)
    assert all(_alive(r) for r in readers), "the reader ended before the command was killed"
    os.kill(command.pid, signum)
    assert command.wait(timeout=30) == -signum
    deadline = time.monotonic() + 3
    while any(_alive(r) for r in readers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(_alive(r) for r in readers), "the reader read on after the command died"
