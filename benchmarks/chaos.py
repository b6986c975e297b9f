"""Kill the trading node with SIGKILL many times on a faulty sandbox; print what was lost.

    .venv/bin/python benchmarks/chaos.py --kills 200 [--seed 7] [--workdir DIR]
    .venv/bin/python benchmarks/chaos.py --paper --kills 200 [--seed 7] [--workdir DIR]

Prints JSON: kills, duplicates, missing fills, balance mismatches, unknown orders (all must be
0), the mean and max recovery time (process start to completed start-up reconciliation), and
counts of orders and fills.

`--paper` kills the quick-start paper replay instead (at random delays and, for
`--commit-kills-pct` of the kills, just before or after a commit), resumes it to the end in
rounds of `--kills-per-round`, and compares each round's orders, fills, positions and balances
with one uninterrupted run: `mismatched_rounds` and `fills_before_creation` must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from tradeguard.chaos.exchange import ChaosSettings, run_chaos
from tradeguard.chaos.paper import TRIGGER_STRATEGIES, PaperChaosSettings, run_paper_chaos
from tradeguard.config import DEFAULT_DATA_FILE
from tradeguard.marketdata.data_files import resolve_data_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--min-run-s", type=float, default=0.2)
    p.add_argument("--max-run-s", type=float, default=2.0)
    p.add_argument("--startup-kill-pct", type=float, default=20.0)
    p.add_argument("--workdir", type=Path, default=None, help="keep the database and logs here")
    p.add_argument("--paper", action="store_true", help="kill the paper replay instead")
    p.add_argument("--kills-per-round", type=int, default=10)
    p.add_argument("--commit-kills-pct", type=float, default=50.0)
    p.add_argument(
        "--triggers", action="store_true",
        help="with --paper: two strategies resting stop and take-profit orders, on 3,000 candles",
    )  # fmt: skip
    args = p.parse_args()
    if args.paper:
        paper(args)
        return
    with tempfile.TemporaryDirectory(prefix="tg-chaos-") as tmp:
        settings = ChaosSettings(
            workdir=args.workdir or Path(tmp),
            kills=args.kills,
            seed=args.seed,
            min_run_s=args.min_run_s,
            max_run_s=args.max_run_s,
            startup_kill_pct=args.startup_kill_pct,
        )
        result = asyncio.run(run_chaos(settings))
    out = result.to_json()
    print(
        json.dumps(
            {
                "kills": out["kills"],
                "duplicates": out["duplicates"],
                "missing_fills": out["missing_fills"],
                "balance_mismatches": out["balance_mismatches"],
                "unknown_orders": out["unknown_orders"],
                "mean_recovery_s": out["mean_recovery_s"],
                "max_recovery_s": out["max_recovery_s"],
                "mean_reconcile_s": out["mean_reconcile_s"],
                "startup_kills": out["startup_kills"],
                "failed_startup_reconciliations": out["failed_startup_reconciliations"],
                "refused_starts": out["refused_starts"],
                "orders": out["orders"],
                "sandbox_orders": out["sandbox_orders"],
                "fills": out["fills"],
                "sandbox_trades": out["sandbox_trades"],
                "final_reconcile_ok": out["final_reconcile_ok"],
                "clean": out["clean"],
                "elapsed_s": out["elapsed_s"],
                "details": out["details"],
            },
            indent=2,
            default=str,
        )
    )


def _first_candles(out: Path, rows: int) -> Path:
    """The header and the first `rows` candles of the bundled BTC/USDT file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = resolve_data_path(DEFAULT_DATA_FILE).read_text().splitlines()[: rows + 1]
    out.write_text("\n".join(lines) + "\n")
    return out


def paper(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tg-paper-chaos-") as tmp:
        settings = PaperChaosSettings(
            workdir=args.workdir or Path(tmp),
            kills=args.kills,
            seed=args.seed,
            kills_per_round=args.kills_per_round,
            min_run_s=args.min_run_s,
            commit_kills_pct=args.commit_kills_pct,
            max_commit=400 if args.triggers else 20,
            commit_interval_s=0,
        )
        if args.triggers:
            settings.strategies = TRIGGER_STRATEGIES
            settings.checkpoint_every = 10_000_000
            settings.data_path = _first_candles(settings.workdir / "btc.csv", 3_000)
        result = run_paper_chaos(settings)
    print(json.dumps(result.to_json(), indent=2, default=str))


if __name__ == "__main__":
    main()
