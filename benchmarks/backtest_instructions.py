"""Where the backtest command's process spends its instructions, phase by phase: one JSON object.

    .venv/bin/python benchmarks/backtest_instructions.py [--src DIR] [--keep DIR]

The seven-pair backtest of benchmarks/backtest.py (examples/backtest/btc_pairs.toml) run once
as the console script runs it (`tradeguard.cli.main.run`: the reader process, the report's
child, the exit without the interpreter's teardown) under `valgrind --tool=callgrind`
(`PYTHONHASHSEED=0`, `OPENBLAS_NUM_THREADS=1`). Each phase boundary calls `os.getppid()`,
which callgrind is told to dump its counts before (`--dump-before=getppid`): each part holds
the instructions between two boundaries, so the phases add up to the process's total. Only
the command's process is counted (the reader and the report's child run in processes of their
own, on the other core). Instruction counts, unlike times, are not moved by a busy machine;
two runs differ by a few M per phase (the replay's pauses are due by wall time).

Phases, in order:
- `python`: the interpreter's own start, up to the first line of the command
- `cli`: `tradeguard.cli.main` and the command's module imported, the arguments parsed, numpy
  imported and the reader forked (`prefetch.start_file`)
- `config`: `tradeguard.config` imported (the config's models built) and the config validated
- `runner_import`: the backtest runner and the node's modules imported
- `run_dir`: the run directory made and the node's config derived (`backtest_config`)
- `load`: the candles made from the reader's columns (its wait included)
- `node`: the node built (run database, venues, risk, strategies)
- `prepare`: the strategies' vectorised columns and the merged series with its skip plan
- `node_start`: venues connected, reconciliation, ledger audit
- `replay`: the replay loop (strategies, risk, journal, paper venue, fills)
- `node_stop`, `collect` (trades and metrics), `close` (the run database closed), `loop_end`
  (the event loop's teardown), `outputs` (exports; the report in its child), `print` (the
  metrics printed as JSON, exit handlers, streams flushed), `exit` (`os._exit`)

`--src DIR` puts another tree's `src` first on the path (compare two trees both given by
`--src`, each compiled first: `python -m compileall -q DIR/src/tradeguard`). Needs valgrind;
takes a few minutes (callgrind runs Python some fifty times slower). `--keep DIR` leaves the
callgrind files in DIR (`cg.PID.N`: part N of process PID) for `callgrind_annotate`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"

# Run under callgrind: the console script with a getppid() call at each boundary.
CHILD = r"""
import os, sys
labels = []
def mark(label):  # the phase `label` ends here
    labels.append(label)
    os.getppid()
mark("python")
out_labels = sys.argv.pop(1)
sys.argv[0] = "tradeguard"
import tradeguard.cli.backtest as cli_backtest
def after(label, fn):
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            mark(label)
    return wrapper
def after_async(label, fn):
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        finally:
            mark(label)
    return wrapper
real_config = cli_backtest._config
def config(args):
    mark("cli")
    try:
        return real_config(args)
    finally:
        mark("config")
        import tradeguard.backtest.runner as runner  # as `_backtest` does next
        import tradeguard.node.node as node_module
        mark("runner_import")
        runner.backtest_config = after("run_dir", runner.backtest_config)
        runner.load_series = after("load", runner.load_series)
        runner.BacktestNode.__init__ = after("node", runner.BacktestNode.__init__)
        runner.merge_with_plan = after("prepare", runner.merge_with_plan)
        node_module.TradingNode.start = after_async("node_start", node_module.TradingNode.start)
        node_module.TradingNode.run = after_async("replay", node_module.TradingNode.run)
        node_module.TradingNode.stop = after_async("node_stop", node_module.TradingNode.stop)
        runner._collect = after("collect", runner._collect)
        runner.BacktestNode.close = after("close", runner.BacktestNode.close)
        runner.run_backtest = after("loop_end", runner.run_backtest)
        runner.write_outputs = after("outputs", runner.write_outputs)
cli_backtest._config = config
real_exit = os._exit
def exit_now(code):
    mark("print")
    with open(out_labels, "w") as f:
        f.write("\n".join([*labels, "exit"]))
    real_exit(code)
os._exit = exit_now
from tradeguard.cli.main import run
run()
"""


def parts(prefix: Path) -> list[int]:
    """Each dump's instruction count, in the order dumped (the last at the process's end)."""
    files = sorted(prefix.parent.glob(prefix.name + ".*"), key=lambda p: int(p.suffix[1:]))
    counts = []
    for path in [*files, prefix]:
        for line in path.read_text().splitlines():
            if line.startswith("summary:"):
                counts.append(int(line.split()[1]))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--src", type=Path, help="another tree whose src is imported first")
    parser.add_argument("--keep", type=Path, help="a directory to leave the callgrind files in")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: install it (apt-get install -y valgrind)")
    src = args.src / "src" if args.src is not None else None
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) if args.keep is None else args.keep
        tmp.mkdir(parents=True, exist_ok=True)
        labels_file = tmp / "labels"
        argv = ["backtest", "--config", str(CONFIG), "--out", str(tmp / "run"), "--json"]
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-before=getppid",
             f"--callgrind-out-file={tmp}/cg.%p", sys.executable, "-c", CHILD,
             str(labels_file), *argv],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"backtest failed: {done.stderr[-2000:]}")
        pids = {p.name.split(".")[1] for p in tmp.glob("cg.*")}
        labels = labels_file.read_text().split("\n")
        # the command's process: the one whose parts match its boundaries
        found = [c for pid in pids if len(c := parts(tmp / f"cg.{pid}")) == len(labels)]
        if len(found) != 1:
            found_parts = {pid: len(parts(tmp / f"cg.{pid}")) for pid in pids}
            raise SystemExit(f"no process with {len(labels)} parts: {labels} {found_parts}")
        counts = found[0]
    phases: dict[str, float] = {}
    # part k holds the instructions from boundary k-1 to boundary k; the last the exit
    for label, count in zip(labels, counts, strict=True):
        phases[label] = phases.get(label, 0) + round(count / 1e6, 1)
    out = {"total_M": round(sum(counts) / 1e6, 1), **{f"{k}_M": v for k, v in phases.items()}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
