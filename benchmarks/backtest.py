"""Backtest benchmark: one JSON object of wall time, memory and throughput figures.

- `backtest_*`: the whole `tradeguard backtest` process on the seven BTC-quoted 5-minute pairs
  (examples/backtest/btc_pairs.toml: EMA 12/26, 2 % stop, 5 % take-profit, 0.1 % fee,
  stake 0.01 BTC, up to 7 open trades), wall time and peak RSS of that process.
  The environment sets PYTHONDONTWRITEBYTECODE=1, so an editable install compiles every module
  of `src/` at every start (site-packages hold .pyc files from pip). Both figures are printed:
  `backtest_cold_wall_s` with no .pyc under `src/` (any there are removed first: they are
  generated files), and `backtest_wall_s` after `python -m compileall src/tradeguard`, which is
  what an installed package (and scripts/test.sh) has; the .pyc files are removed again unless
  there were some before. `*_cpu_s` is the process's user + system CPU time, which a busy
  machine disturbs less than the wall time; `backtest_reader_cpu_runs_s` is the CPU of the
  second process that reads the data files while the command imports (on the other core), and
  `backtest_reader_peak_rss_mib` its peak memory; `backtest_peak_rss_both_mib` adds the two
  peaks (an upper bound of what both hold at once: the reader ends before the replay). Those
  come from the kernel's peak RSS of a process and of its largest child: the child the command
  forks to write the HTML report shares most of its pages with the command, yet counts them all,
  so the sum overstates. `backtest_peak_pss_tree_mib` is the measure of what the backtest holds
  at once: one more run, its process tree sampled every 5 ms, the proportional set size (a
  shared page split among the processes sharing it) of the command and its children summed,
  the largest sum kept.
  The compiled process runs three times: the figures are the best of them, each run's are
  listed (`backtest_wall_runs_s`, `backtest_cpu_runs_s`).
- `idle_candles_per_s_callback`: candle events through the node with a strategy that never
  trades, every candle delivered to its `on_candle` (the path paper and live trading take).
- `idle_candles_per_s_vectorised`: the same with a vectorised strategy (`FrameStrategy` with a
  `signal_columns` never set): the backtest advances over candles without a signal in bulk
  while nothing is held (backtest/bulk.py), so this measures that bookkeeping, not callbacks.
- `orders_per_s`: orders (risk, journal, paper venue, fill) per second in backtest durability,
  a strategy buying a fixed stake in quote on one candle and selling it on the next, on all seven
  pairs; `orders_denied` counts the intents the risk engine refused (their time is in the
  figure too, so it must stay near 0), and `orders_run_cpu_s` is the process CPU time of that
  whole backtest call. `run_backtest` itself runs the cyclic collector rarely (as the command
  does), so these figures include that policy.
- `sweep_*`: 16 combinations on 1 and on 2 workers (Ray when installed); the speed-up of 2; the
  CPU seconds of the worker processes and of everything else (Ray's own processes, the driver);
  and how much more CPU the combinations took on 2 workers than on 1 (contention, not serial work).

- `--orders-only [--runs N]`: only the orders figure, N times (3), each run's orders/s and
  `run_backtest` CPU seconds and their medians (for comparing a change on a busy machine).

Run: .venv/bin/python benchmarks/backtest.py [--skip-sweep | --orders-only [--runs N]]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"
HERE = Path(__file__).resolve().parent
PROCESS_RUNS = 3


def _run_backtest_process(out: Path) -> tuple[float, float, dict[str, Any]]:
    """Run the CLI as a user does; return wall seconds, peak RSS MiB and the metrics."""
    argv = ["backtest", "--config", str(CONFIG), "--out", str(out), "--json"]
    code = (
        "import resource, runpy, sys; sys.argv = ['tradeguard', *sys.argv[1:]]; "
        "import atexit; u = lambda: resource.getrusage(resource.RUSAGE_SELF); "
        "c = lambda: resource.getrusage(resource.RUSAGE_CHILDREN); "
        "atexit.register(lambda: print('PEAK', u().ru_maxrss, u().ru_utime + u().ru_stime, "
        "c().ru_utime + c().ru_stime, c().ru_maxrss, file=sys.stderr)); "
        "runpy.run_module('tradeguard.cli', run_name='__main__')"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"backtest failed: {done.stderr}")
    line = next(x.split() for x in done.stderr.splitlines() if x.startswith("PEAK"))
    metrics = json.loads(done.stdout)
    metrics["cpu_s"] = float(line[2])
    metrics["reader_cpu_s"] = float(line[3])  # the process that reads the data files
    metrics["reader_rss_mib"] = int(line[4]) / 1024
    return wall, int(line[1]) / 1024, metrics


def bench_backtest_process(tmp: Path) -> dict[str, Any]:
    """Time the whole CLI process, as a user runs it: cold (src not compiled) and compiled."""
    src = ROOT / "src" / "tradeguard"
    had_caches = any(src.rglob("__pycache__"))
    _drop_caches(src)  # generated files (gitignored): the cold run compiles every module
    wall, _, cold = _run_backtest_process(tmp / "cold")
    out: dict[str, Any] = {
        "backtest_cold_wall_s": round(wall, 3),
        "backtest_cold_cpu_s": round(cold["cpu_s"], 3),
    }
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    runs = []
    try:
        for n in range(PROCESS_RUNS):  # the best of a few: a shared machine only adds time
            runs.append(_run_backtest_process(tmp / f"bt{n}"))
    finally:
        if not had_caches:
            _drop_caches(src)
    wall, _, metrics = min(runs, key=lambda r: r[0])
    out.update(
        backtest_wall_s=round(wall, 3),
        backtest_cpu_s=round(min(r[2]["cpu_s"] for r in runs), 3),
        backtest_wall_runs_s=[round(r[0], 3) for r in runs],
        backtest_cpu_runs_s=[round(r[2]["cpu_s"], 3) for r in runs],
        backtest_reader_cpu_runs_s=[round(r[2]["reader_cpu_s"], 3) for r in runs],
        backtest_peak_rss_mib=round(max(r[1] for r in runs), 1),
        # The reader's own peak, and both added (an upper bound: it ends before the replay).
        backtest_reader_peak_rss_mib=round(max(r[2]["reader_rss_mib"] for r in runs), 1),
        backtest_peak_rss_both_mib=round(max(r[1] + r[2]["reader_rss_mib"] for r in runs), 1),
        backtest_replay_s=round(metrics["elapsed_s"], 3),
        backtest_candles=metrics["candles"],
        backtest_trades=metrics["trades"],
        load_average_1m_after_backtest=round(os.getloadavg()[0], 2),
    )
    out["backtest_peak_pss_tree_mib"] = round(_peak_pss_tree(tmp / "pss"), 1)
    return out


def _peak_pss_tree(out: Path) -> float:
    """Run the command once, sampling its process tree's summed PSS; return the peak in MiB."""
    argv = ["backtest", "--config", str(CONFIG), "--out", str(out), "--json"]
    code = "import runpy, sys; sys.argv = ['tradeguard', *sys.argv[1:]]; " + (
        "runpy.run_module('tradeguard.cli', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kib(pid) for pid in _tree(proc.pid)))
        time.sleep(0.005)
    if proc.returncode != 0:
        raise SystemExit(f"backtest failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return peak / 1024


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0  # ended between the listing and the read
    return next((int(x.split()[1]) for x in text.splitlines() if x.startswith("Pss:")), 0)


def _drop_caches(src: Path) -> None:
    for cache in list(src.rglob("__pycache__")):
        shutil.rmtree(cache)


def _config_with(kind: str, params: dict[str, Any]) -> Any:
    from tradeguard.config import load_config

    config = load_config(CONFIG)
    for sc in config.strategies:
        sc.kind = kind
        sc.params = dict(params)
    return config


def bench_node(tmp: Path) -> dict[str, Any]:
    """Candle events per second (idle strategies) and orders per second (one per candle)."""
    from tradeguard.backtest.runner import run_backtest

    strategies = HERE / "backtest_strategies.py"
    idle = run_backtest(_config_with(f"{strategies}:Idle", {}), tmp / "idle")
    vector = run_backtest(_config_with(f"{strategies}:IdleVector", {}), tmp / "idle_vector")
    cpu_before = time.process_time()
    busy = run_backtest(_config_with(f"{strategies}:EveryCandle", {"stake": "0.01"}), tmp / "busy")
    busy_cpu = time.process_time() - cpu_before
    return {
        "idle_candles": idle.summary.events,
        "idle_candles_per_s_callback": round(idle.summary.events / idle.summary.elapsed_s),
        "idle_candles_per_s_vectorised": round(vector.summary.events / vector.summary.elapsed_s),
        "orders": busy.summary.orders,
        "orders_denied": busy.summary.denied,
        "orders_per_s": round(busy.summary.orders / busy.summary.elapsed_s),
        # the whole run_backtest call (loading, report included), less disturbed by other load
        "orders_run_cpu_s": round(busy_cpu, 2),
    }


def bench_orders(tmp: Path, runs: int) -> dict[str, Any]:
    """Only the orders figure, `runs` times: each run's orders/s and CPU, and their medians."""
    from statistics import median

    from tradeguard.backtest.runner import run_backtest

    config = _config_with(f"{HERE / 'backtest_strategies.py'}:EveryCandle", {"stake": "0.01"})
    rates, cpus = [], []
    for n in range(runs):
        cpu_before = time.process_time()
        busy = run_backtest(config, tmp / f"orders{n}")
        cpus.append(round(time.process_time() - cpu_before, 2))
        rates.append(round(busy.summary.orders / busy.summary.elapsed_s))
    return {
        "orders": busy.summary.orders,
        "orders_denied": busy.summary.denied,
        "orders_per_s_median": median(rates),
        "orders_per_s_runs": rates,
        "orders_run_cpu_s_median": median(cpus),
        "orders_run_cpu_s_runs": cpus,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def bench_sweep(tmp: Path) -> dict[str, Any]:
    """16 combinations at 1 and at 2 workers; throughput excludes starting the workers."""
    from tradeguard.backtest.grid import Grid
    from tradeguard.backtest.pools import make_pool
    from tradeguard.backtest.runner import BacktestWindow
    from tradeguard.backtest.sweep import SweepJob, run_combo, run_combos
    from tradeguard.config import load_config

    config = load_config(CONFIG)
    base = config.model_dump(mode="json")
    grid = Grid({"strategies.*.params.fast": [6, 8, 10, 12], "strategies.*.params.slow": [
        20, 26, 32, 40]})  # fmt: skip
    day = BacktestWindow(1515628800000, 1515715200000)
    out: dict[str, Any] = {}
    for workers in (1, 2):
        jobs = [
            SweepJob(base, str(config.source_dir), c,
                     str(tmp / f"sweep{workers}" / f"{c.index:02d}"), BacktestWindow())
            for c in grid.combos()
        ]  # fmt: skip
        warm = [
            SweepJob(base, str(config.source_dir), c, str(tmp / f"warm{workers}" / str(c.index)),
                     day)
            for c in grid.combos()[:workers]
        ]  # fmt: skip
        with make_pool(workers) as pool:
            list(pool.map_unordered(run_combo, warm))  # workers started, data loaded
            cpu_before = _descendant_cpu_s()
            started = time.perf_counter()
            results, _ = run_combos(jobs, pool)
            elapsed = time.perf_counter() - started
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in _descendant_cpu_s().items()}
            out["sweep_engine"] = pool.engine
        out[f"sweep_{workers}w_s"] = round(elapsed, 2)
        out[f"sweep_{workers}w_combos_per_s"] = round(len(results) / elapsed, 3)
        # CPU seconds of the processes doing the combinations, and of everything else the pool
        # runs (Ray's raylet, GCS and agents; the driver): what is not spread over the workers.
        busy = sorted(cpu.values(), reverse=True)[:workers]
        out[f"sweep_{workers}w_worker_cpu_s"] = round(sum(busy), 2)
        out[f"sweep_{workers}w_other_cpu_s"] = round(sum(cpu.values()) - sum(busy), 2)
    out["sweep_speedup_2w"] = round(out["sweep_1w_s"] / out["sweep_2w_s"], 2)
    # Above 1: a combination costs more CPU with both cores busy (caches, memory, other load).
    out["sweep_2w_cpu_per_combo_ratio"] = round(
        out["sweep_2w_worker_cpu_s"] / out["sweep_1w_worker_cpu_s"], 2
    )
    return out


def _descendant_cpu_s() -> dict[int, float]:
    """CPU seconds (user + system) of every live descendant of this process, and of itself."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    me = os.getpid()
    out = {me: stats[me][1]} if me in stats else {}
    frontier = [me]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cpu) in stats.items():
            if ppid == parent and pid not in out:
                out[pid] = cpu
                frontier.append(pid)
    return out


def _burn(n: int) -> float:
    started = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - started


def bench_machine() -> dict[str, Any]:
    """What 2 workers can gain at all right now: a pure CPU loop on the same pool (calibration)."""
    from tradeguard.backtest.pools import make_pool

    out: dict[str, Any] = {"load_average_1m": round(os.getloadavg()[0], 2)}
    took = {}
    for workers in (1, 2):
        with make_pool(workers) as pool:
            list(pool.map_unordered(_burn, [10] * workers))
            started = time.perf_counter()
            list(pool.map_unordered(_burn, [3_000_000] * 8))
            took[workers] = time.perf_counter() - started
    out["cpu_loop_speedup_2w"] = round(took[1] / took[2], 2)
    return out


def main() -> None:
    figures: dict[str, Any] = {"load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "--orders-only" in sys.argv:
            runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
            figures.update(bench_orders(tmp, runs))
            print(json.dumps(figures, indent=2))
            return
        figures.update(bench_backtest_process(tmp))
        figures.update(bench_node(tmp))
        if "--skip-sweep" not in sys.argv:
            figures.update(bench_machine())
            figures.update(bench_sweep(tmp))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
