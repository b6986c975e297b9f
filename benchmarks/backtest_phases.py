"""Where the backtest process's CPU goes: one JSON object of CPU seconds per phase.

The seven-pair backtest of benchmarks/backtest.py (examples/backtest/btc_pairs.toml), run as
`tradeguard backtest --json` in a fresh interpreter each time, with the runner's own steps timed
from the inside (the same `run_backtest` call, its steps wrapped, nothing run twice):

- `start_s`: the interpreter up to the first line of the command (`python -c pass` is most of it)
- `imports_s`: the command line and the backtest modules; `importtime_by_package_s`: the self
  import times of a whole run (modules a phase loads later included) per top-level package, from
  `python -X importtime` (which adds its own overhead: compare them with each other)
- `load_s`: the `[[data]]` files read into candles (the candles made from the columns the
  reader process sends, as the console script does; `reader_cpu_s`: that process's CPU, on the
  other core); `node_s`: the node built (storage, venues,
  risk, strategies); `prepare_s`: vectorised indicators and the merged series
- `node_start_s`: venues connected, reconciliation, ledger audit; `replay_s`: the replay loop
  (strategies, risk, journal, paper venue, fills; `orders` of them)
- `collect_s`: trades and metrics; `outputs_s`: exports and the HTML report (this process's
  part: the report is written by a forked child meanwhile, `outputs_child_cpu_s`); `rest_s`: the
  remainder (argument parsing, config, JSON printed)

The figures are those of the run with the least CPU of `--runs` runs (3): a busy machine only
adds time. The per-order
cost is `replay_s` split by `orders`, not measured apart.

Run: .venv/bin/python benchmarks/backtest_phases.py [--runs N]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"

# Run in the child: the backtest command with its steps timed (CPU seconds of this process).
CHILD = r"""
import gc, json, resource, sys, time
cpu = time.process_time
marks = {"start": cpu()}
from tradeguard.cli.main import main
sys.modules["tradeguard.cli.main"]._WHOLE_PROCESS = True  # as the console script: the reader
thresholds = gc.get_threshold()
gc.set_threshold(200_000, 50, 50)  # as cmd_backtest does before it imports these
import tradeguard.backtest.runner as runner
import tradeguard.cli.backtest
import tradeguard.node.node as node_module
gc.set_threshold(*thresholds)
marks["imports"] = cpu() - marks["start"]
spent = {}
def timed(name, fn):
    def wrapper(*args, **kwargs):
        t = cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + cpu() - t
    return wrapper
def timed_async(name, fn):
    async def wrapper(*args, **kwargs):
        t = cpu()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + cpu() - t
    return wrapper
runner.load_series = timed("load", runner.load_series)
runner.BacktestNode.__init__ = timed("node", runner.BacktestNode.__init__)
runner._precompute = timed("prepare", runner._precompute)
runner.merge_with_plan = timed("prepare", runner.merge_with_plan)
node_module.TradingNode.start = timed_async("node_start", node_module.TradingNode.start)
node_module.TradingNode.run = timed_async("replay", node_module.TradingNode.run)
runner._collect = timed("collect", runner._collect)
real_write_outputs = runner.write_outputs
def write_outputs(*args, **kwargs):  # the report's child process counted apart
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        return real_write_outputs(*args, **kwargs)
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent["outputs_child"] = (after.ru_utime + after.ru_stime
                                  - before.ru_utime - before.ru_stime)
runner.write_outputs = timed("outputs", write_outputs)
real_stdout = sys.stdout
sys.stdout = open("/dev/null", "w")
code = main(["backtest", "--config", sys.argv[1], "--out", sys.argv[2], "--json"])
sys.stdout = real_stdout
total = cpu()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "start": marks["start"], "imports": marks["imports"],
                  "total": total, "reader": children.ru_utime + children.ru_stime, **spent}))
"""


def run_once(out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(CONFIG), str(out)],
        capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"backtest failed: {done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures.pop("code") != 0:
        raise SystemExit(f"backtest failed: {done.stderr}")
    return figures


def import_split(out: Path) -> dict[str, float]:
    """Self import time (µs) per top-level package, from `python -X importtime`."""
    code = (
        "import sys; from tradeguard.cli.main import main; "
        "main(['backtest', '--config', sys.argv[1], '--out', sys.argv[2], '--json'])"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, str(CONFIG), str(out)],
        capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # fmt: skip
    by_package: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            name = m.group(2)
            top = name.split(".")[0]
            by_package["tradeguard" if top == "tradeguard" else top] += int(m.group(1))
    return dict(by_package)


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    with tempfile.TemporaryDirectory() as d:
        results = [run_once(Path(d) / f"run{n}") for n in range(runs)]
        split = import_split(Path(d) / "importtime")
    best = min(results, key=lambda r: r["total"])  # one run's phases: they add up
    phases = ("load", "node", "prepare", "node_start", "replay", "collect", "outputs")
    out: dict[str, Any] = {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "total_cpu_s": round(best["total"], 3),
        "start_s": round(best["start"], 3),
        "imports_s": round(best["imports"], 3),
    }
    for name in phases:
        out[f"{name}_s"] = round(best.get(name, 0.0), 3)
    out["outputs_child_cpu_s"] = round(best.get("outputs_child", 0.0), 3)
    out["reader_cpu_s"] = round(best["reader"] - best.get("outputs_child", 0.0), 3)
    out["rest_s"] = round(
        best["total"] - best["start"] - best["imports"] - sum(best.get(n, 0.0) for n in phases),
        3,
    )
    top = sorted(split.items(), key=lambda kv: -kv[1])[:8]
    out["importtime_by_package_s"] = {k: round(v / 1e6, 3) for k, v in top}
    out["runs_total_cpu_s"] = [round(r["total"], 3) for r in results]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
