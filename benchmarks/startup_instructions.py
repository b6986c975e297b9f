"""Where the backtest command's start-up goes, in instructions: one JSON object.

    .venv/bin/python benchmarks/startup_instructions.py [--src DIR] [--window DAYS]

Each probe runs in a fresh interpreter under `valgrind --tool=callgrind` with
`PYTHONHASHSEED=0` (instruction counts, which a busy machine does not disturb as it does wall
time); `--src DIR` puts another tree's `src` first on the path (e.g. a worktree of an older
commit, to compare: run `python -m compileall -q DIR` first, since an uncompiled tree under
`PYTHONDONTWRITEBYTECODE=1` compiles every module at each start); that path entry is searched by
every import, a few M instructions more: compare two trees both given by `--src`.

- `python`: the interpreter alone (`pass`), under everything below.
- `cli_main`: `import tradeguard.cli.main`, what `tradeguard --help` loads.
- `backtest_start`: what `tradeguard backtest` does before its run: the command line and the
  command's module imported, the example config (examples/backtest/btc_pairs.toml) validated,
  the backtest runner imported, with the collector threshold `cmd_backtest` sets.
- `alone_<package>`: that third-party package imported alone (SQLAlchemy, pydantic with
  `BaseModel`, numpy, asyncio), the standard library it loads included.
- `third_party`: the four imported together (their shared standard library counted once);
  `saved_without_<package>` = `third_party` less the other three together: what the start
  would save at most if the backtest did without that package.
- `tradeguard_own`: `backtest_start` less `third_party`: tradeguard's own modules, building the
  config models and validating the config; `config_models` is the part of it that importing
  `tradeguard.config` (the config's models built, the modules they need) adds to `third_party`.
- `--window DAYS` adds `idle_window`: `benchmarks/order_window.py Idle DAYS` (the start-up and
  DAYS days of candles through a strategy that never orders).

Two runs differ by up to ~10 M instructions per figure (a derived one may come out slightly
below zero). Needs valgrind. Takes a few minutes (callgrind runs Python some fifty times slower).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"

PACKAGES = {
    "sqlalchemy": "import sqlalchemy",
    "pydantic": "from pydantic import BaseModel",
    "numpy": "import numpy",
    "asyncio": "import asyncio",
}

# as `tradeguard backtest` sets it: pydantic reads no plugin entry points as the models build
PLUGINS_OFF = "import os; os.environ.setdefault('PYDANTIC_DISABLE_PLUGINS', '__all__')"

BACKTEST_START = f"""
import gc, os
import tradeguard.cli.main
import tradeguard.cli.backtest
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
gc.set_threshold(200_000, 50, 50)
from tradeguard.config import load_config
load_config({str(CONFIG)!r})
import tradeguard.backtest.runner
"""


def instructions(argv: list[str], src: Path | None, tmp: Path) -> int:
    """Instructions the interpreter runs for `argv` (its own process; no forked child)."""
    out = tmp / f"cg.{len(list(tmp.iterdir()))}"
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, *argv],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"probe {argv!r} failed: {done.stderr[-2000:]}")
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no instruction total in {out}")


def main() -> None:
    args = sys.argv[1:]
    src = Path(args[args.index("--src") + 1]).resolve() if "--src" in args else None
    window = args[args.index("--window") + 1] if "--window" in args else None
    figures: dict[str, object] = {"src": str(src or ROOT / "src")}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)

        def count(code: str) -> int:
            return instructions(["-c", code], src, tmp)

        figures["python"] = count("pass")
        figures["cli_main"] = count("import tradeguard.cli.main")
        figures["backtest_start"] = count(BACKTEST_START)
        for name, code in PACKAGES.items():
            figures[f"alone_{name}"] = count(code)
        together = count("; ".join(PACKAGES.values()))
        figures["third_party"] = together
        for name in PACKAGES:
            others = "; ".join(c for n, c in PACKAGES.items() if n != name)
            figures[f"saved_without_{name}"] = together - count(others)
        figures["tradeguard_own"] = figures["backtest_start"] - together  # type: ignore[operator]
        config = f"{PLUGINS_OFF}; {'; '.join(PACKAGES.values())}; import tradeguard.config"
        figures["config_models"] = count(config) - together
        if window is not None:
            run_dir = tmp / "idle"
            figures["idle_window_days"] = float(window)
            figures["idle_window"] = instructions(
                [str(ROOT / "benchmarks" / "order_window.py"), "Idle", window, str(run_dir)],
                src, tmp,
            )  # fmt: skip
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
