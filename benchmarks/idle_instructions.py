"""Instructions per candle of the idle replay: one JSON object.

    .venv/bin/python benchmarks/idle_instructions.py [--src DIR] [--keep DIR]

The idle figure of benchmarks/backtest.py (`idle_candles_per_s_callback`: the seven BTC-quoted
pairs of examples/backtest/btc_pairs.toml, a strategy on each pair that receives every candle
and never trades) run once under `valgrind --tool=callgrind` (`PYTHONHASHSEED=0`,
`OPENBLAS_NUM_THREADS=1`). The replay that figure times (`summary.elapsed_s`:
`backtest.replay._replay`, its modules imported before) is bracketed by `os.getppid()` calls,
which callgrind dumps its counts before (`--dump-before=getppid`): `replay_M` is the
instructions of that call alone, and `replay_per_candle` those divided by the candles replayed.
Instruction counts, unlike times, are not moved by a busy machine. A quiet machine runs about
`--ipc` instructions a second (9.1e9 by default: the last quiet-machine figure, 726,653
candles/s at 12,546 instructions a candle), so `est_quiet_candles_per_s` is that divided by
`replay_per_candle`: an estimate, not a measurement. The replay pauses for the event loop when
a slice of wall time is used up (0.05 s: about once a run at full speed), which under valgrind
(some fifty times slower, more on a busy machine) would be every few hundred candles, as many
as the load makes them: here no slice is ever used up, so every run counts the same work.

`--src DIR` puts another tree's `src` first on the path (compare two trees). `--keep DIR` leaves
the callgrind files in DIR (`cg.PID.N`) for `callgrind_annotate --threshold=100` (the replay
is part 2).
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

from backtest_instructions import parts  # each callgrind dump's count, in order

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"
STRATEGIES = ROOT / "benchmarks" / "backtest_strategies.py"
QUIET_IPS = 726_653 * 12_546

CHILD = r"""
import os, sys
from pathlib import Path
from tradeguard.config import load_config
from tradeguard.backtest.runner import run_backtest
import tradeguard.backtest.replay as replay_module
import tradeguard.backtest.runner as runner_module
import tradeguard.pacing as pacing_module
pacing_module.Pacer.due = lambda self: False  # no pause due by wall time: the same count each run
config_path, kind, out, counts = sys.argv[1:5]
config = load_config(config_path)
for sc in config.strategies:
    sc.kind, sc.params = kind, {}
real_replay = replay_module._replay
async def timed(*args, **kwargs):
    os.getppid()  # the replay begins
    try:
        return await real_replay(*args, **kwargs)
    finally:
        os.getppid()  # the replay ends
replay_module._replay = timed
result = run_backtest(config, Path(out))
Path(counts).write_text(str(result.summary.events))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--src", type=Path, help="another tree whose src is imported first")
    parser.add_argument("--keep", type=Path, help="a directory to leave the callgrind files in")
    parser.add_argument("--ipc", type=float, default=QUIET_IPS, help="instructions a second")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: install it (apt-get install -y valgrind)")
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    if args.src is not None:
        src = str(args.src / "src")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) if args.keep is None else args.keep
        tmp.mkdir(parents=True, exist_ok=True)
        counts_file = tmp / "events"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-before=getppid", "--compress-strings=no",
             f"--callgrind-out-file={tmp}/cg.%p", sys.executable, "-c", CHILD, str(CONFIG),
             f"{STRATEGIES}:Idle", str(tmp / "run"), str(counts_file)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"idle backtest failed: {done.stderr[-2000:]}")
        events = int(counts_file.read_text())
        pids = {p.name.split(".")[1] for p in tmp.glob("cg.*")}
        found = [c for pid in pids if len(c := parts(tmp / f"cg.{pid}")) == 3]
        if not found:
            raise SystemExit("no process with the replay's three parts")
        replay = found[0][1]
    print(
        json.dumps(
            {
                "candles": events,
                "replay_M": round(replay / 1e6, 1),
                "replay_per_candle": round(replay / events),
                "est_quiet_candles_per_s": round(args.ipc / (replay / events)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
