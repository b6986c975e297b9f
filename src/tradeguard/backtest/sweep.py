"""Sweeps: every grid combination an independent backtest, scheduled on Ray or a process pool.

```python
outcome = run_sweep(config, load_grid(Path("grid.toml")), Path("sweeps/ema"), workers=2)
outcome.leaderboard[0]["values"], outcome.engine       # best combination; "ray" or "processes"
```

A combination is a pure function of its values (`run_combo`); the driver only schedules, stores
and ranks. Each finished combination leaves `result.json` in its own directory, written last and
atomically, so a sweep interrupted at any moment and run again skips what is stored and reruns
only the rest (a half-written directory is cleared first). `sweep.json` records what the
results were computed from; a sweep run into the directory with other inputs is refused
(`sweep_inputs.py`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradeguard.backtest.grid import Combo, Grid, apply_values
from tradeguard.backtest.pools import make_pool
from tradeguard.backtest.runner import BacktestWindow
from tradeguard.backtest.sweep_inputs import claim_sweep_dir, sweep_inputs
from tradeguard.config import Config
from tradeguard.config_errors import describe_validation_error
from tradeguard.model.errors import ConfigError

RESULT_FILE = "result.json"
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SweepJob:
    """Everything a worker needs to run one combination, as plain picklable data."""

    config: dict[str, Any]
    source_dir: str | None
    combo: Combo
    run_dir: str
    window: BacktestWindow


def run_combo(job: SweepJob) -> dict[str, Any]:
    """Run one combination's backtest in its directory; store and return its result."""
    from tradeguard.backtest.exports import json_safe, write_exports
    from tradeguard.backtest.runner import run_backtest

    run_dir = Path(job.run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted attempt: start it again from clean
    config = Config.model_validate(
        apply_values(json.loads(json.dumps(job.config)), job.combo.values)
    )
    if job.source_dir is not None:
        config._source_dir = Path(job.source_dir)
    try:
        result = run_backtest(config, run_dir, job.window)
    except Exception as exc:
        from tradeguard.strategies.faults import strategy_fault

        fault = strategy_fault(exc)
        if fault is None:
            raise
        # said here, where the strategy's frames are: the driver sees only a pickled copy
        raise ConfigError(f"grid combination {job.combo.label}: {fault}") from None
    write_exports(run_dir, result.metrics, result.trades, result.curve)
    figures = {k: v for k, v in result.metrics.items() if not isinstance(v, dict)}
    record = json_safe(
        {"index": job.combo.index, "key": job.combo.key, "values": job.combo.values,
         "metrics": figures, "run_dir": str(run_dir), "window": _window_of(job)}
    )  # fmt: skip
    tmp = run_dir / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    tmp.replace(run_dir / RESULT_FILE)
    return record


def _window_of(job: SweepJob) -> dict[str, int | None]:
    """The span a combination's backtest replays (a fold's train or test span)."""
    return {"start_ms": job.window.start_ms, "end_ms": job.window.end_ms}


def _check_stored_window(job: SweepJob, stored: dict[str, Any], folded: bool) -> None:
    """Refuse a stored result of another span than `job`'s: a fold of another layout. One
    stored without its span (before results recorded it) is refused only for a fold (a plain
    sweep's window is in sweep.json)."""
    kept = stored.get("window")
    if kept == _window_of(job) or (kept is None and not folded):
        return
    want = f"{ts_text(job.window.start_ms)} .. {ts_text(job.window.end_ms)}"
    if isinstance(kept, dict):
        held = f"of {ts_text(kept.get('start_ms'))} .. {ts_text(kept.get('end_ms'))}"
    else:
        held = "with no window recorded"
    why = (
        " (the walk-forward folds are whole UTC days within --from/--to, laid out otherwise "
        "when it was stored)"
        if folded
        else ""
    )
    raise ConfigError(
        f"--out: {job.run_dir} holds a result {held}, not of this sweep's {want}{why}; its "
        "results are not of these backtests: pick a new --out or remove that one"
    )


def ts_text(ms: Any) -> str:
    """Epoch ms as `YYYY-MM-DD HH:MM:SS` (UTC); anything else (no bound) as `-`."""
    if type(ms) is not int:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def stored_result(run_dir: Path) -> dict[str, Any] | None:
    """Return a combination's stored result, or None when it has not finished."""
    path = run_dir / RESULT_FILE
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def rank(results: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Order results by `metric`, highest first ("-name": lowest first); missing values last."""
    lowest = metric.startswith("-")
    name = metric.lstrip("-")

    def key(r: dict[str, Any]) -> tuple[int, float]:
        v = r["metrics"].get(name)
        if v == "inf":
            v = math.inf
        if not isinstance(v, int | float):
            return (1, 0.0)
        return (0, v if lowest else -v)

    return sorted(results, key=key)


@dataclass
class SweepOutcome:
    """What a sweep found: the ranked results and, with walk-forward, the folds."""

    engine: str
    leaderboard: list[dict[str, Any]]
    skipped: int = 0
    folds: list[dict[str, Any]] = field(default_factory=list)
    out_of_sample: dict[str, Any] = field(default_factory=dict)


def run_combos(
    jobs: Sequence[SweepJob], pool: Any, progress: Progress | None = None, folded: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Run the jobs not stored yet on `pool`; return every result and how many were skipped.
    A stored result of another span is refused (`folded`: the jobs are a fold's)."""
    results = []
    todo = []
    for job in jobs:
        stored = stored_result(Path(job.run_dir))
        if stored is not None:
            _check_stored_window(job, stored, folded)
            results.append(stored)
        else:
            todo.append(job)
    done = len(results)
    if progress is not None:
        progress(done, len(jobs))
    for record in pool.map_unordered(run_combo, todo):
        results.append(record)
        done += 1
        if progress is not None:
            progress(done, len(jobs))
    return results, len(jobs) - len(todo)


def run_sweep(
    config: Config,
    grid: Grid,
    out_dir: Path,
    workers: int = 2,
    ray_address: str | None = None,
    window: BacktestWindow | None = None,
    walk_forward: tuple[int, int] | None = None,
    progress: Progress | None = None,
    use_ray: bool = True,
) -> SweepOutcome:
    """Run every combination (per fold with walk-forward); rank by the grid's metric."""
    window = window or BacktestWindow()
    base = config.model_dump(mode="json")
    source = str(config.source_dir) if config.source_dir is not None else None
    combos = grid.combos()
    for combo in combos:
        check_combo(base, source, combo)
    claim_sweep_dir(out_dir, sweep_inputs(base, source, window, walk_forward))
    with make_pool(workers, ray_address, use_ray) as pool:
        if walk_forward is None:
            jobs = [_job(base, source, c, out_dir / "combos", window) for c in combos]
            results, skipped = run_combos(jobs, pool, progress)
            outcome = SweepOutcome(pool.engine, rank(results, grid.metric), skipped)
        else:
            outcome = _walk_forward(base, source, combos, grid, out_dir, window, walk_forward,
                                    pool, progress)  # fmt: skip
    (out_dir / "leaderboard.json").write_text(
        json.dumps(
            {"metric": grid.metric, "engine": outcome.engine, "leaderboard": outcome.leaderboard,
             "folds": outcome.folds, "out_of_sample": outcome.out_of_sample}, indent=2,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return outcome


def check_combo(base: dict[str, Any], source: str | None, combo: Combo) -> None:
    """Build a combination's config and strategies, or raise naming the combination."""
    from pydantic import ValidationError

    from tradeguard.strategies.base import create

    try:
        config = Config.model_validate(apply_values(json.loads(json.dumps(base)), combo.values))
        for sc in config.strategies:
            create(sc.kind, sc.id, sc.venue, sc.symbol, sc.params, Path(source) if source else None)
    except ValidationError as exc:  # as `config check` says it: key, value, rule; one line
        said = describe_validation_error(Config, exc, {}).splitlines()[1:]
        detail = "; ".join(line.strip() for line in said[:3])
        raise ConfigError(f"grid combination {combo.label}: {detail}") from None
    except ValueError as exc:
        reason = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in reason[:3])
        raise ConfigError(f"grid combination {combo.label}: {detail}") from None


def _job(
    base: dict[str, Any], source: str | None, combo: Combo, parent: Path, window: BacktestWindow
) -> SweepJob:
    run_dir = parent / f"{combo.index:04d}-{combo.key}"
    return SweepJob(base, source, combo, str(run_dir.resolve()), window)


def folds(
    first_ms: int,
    last_ms: int,
    train_days: int,
    test_days: int,
    window: tuple[int | None, int | None] = (None, None),
) -> Iterator[tuple[int, int, int]]:
    """Yield (train start, test start, test end) in ms, each fold moved on by one test span:
    whole UTC days of the data within `window` (its --from and --to, either may be None; one
    at a moment of a day leaves that day's part out)."""
    day = 86_400_000
    start = first_ms - first_ms % day
    if window[0] is not None and start < window[0]:
        start += day  # the window starts within the data's first day
    end = last_ms + day if window[1] is None else min(last_ms + day, window[1])
    while start + (train_days + test_days) * day <= end:
        yield start, start + train_days * day, start + (train_days + test_days) * day
        start += test_days * day


def _walk_forward(
    base: dict[str, Any], source: str | None, combos: list[Combo], grid: Grid, out_dir: Path,
    window: BacktestWindow, split: tuple[int, int], pool: Any, progress: Progress | None,
) -> SweepOutcome:  # fmt: skip
    from tradeguard.backtest.frames import load_series

    config = Config.model_validate(base)
    series = load_series(config, window.start_ms, window.end_ms, None)
    stamps = [c.ts for s in series.values() for c in (s[0], s[-1]) if s]
    if not stamps:
        raise ConfigError("walk-forward: no candles in the chosen window")
    spans = list(folds(min(stamps), max(stamps), *split, (window.start_ms, window.end_ms)))
    if not spans:
        raise ConfigError(
            f"--walk-forward {split[0]}:{split[1]}: the data spans less than one train+test "
            "period (whole UTC days within --from/--to); shorten the split (days)"
        )
    fold_rows: list[dict[str, Any]] = []
    board: list[dict[str, Any]] = []
    growth = 1.0
    for n, (lo, mid, hi) in enumerate(spans):
        train = BacktestWindow(lo, mid, window.timeframe_s, window.commit_every)
        test = BacktestWindow(mid, hi, window.timeframe_s, window.commit_every)
        fold_dir = out_dir / f"fold-{n:02d}"
        jobs = [_job(base, source, c, fold_dir / "train", train) for c in combos]
        results, _ = run_combos(jobs, pool, progress, folded=True)
        ranked = rank(results, grid.metric)
        best = ranked[0]
        best_combo = next(c for c in combos if c.key == best["key"])
        [oos], _ = run_combos(
            [_job(base, source, best_combo, fold_dir / "test", test)], pool, folded=True
        )
        ret = oos["metrics"].get("total_return_pct") or 0.0
        growth *= 1 + ret / 100
        fold_rows.append({"fold": n, "train_from": lo, "test_from": mid, "test_to": hi,
                          "best": best["values"], "in_sample": best["metrics"],
                          "out_of_sample": oos["metrics"]})  # fmt: skip
        board = ranked if n == 0 else board
    name = grid.metric.lstrip("-")
    oos_values = [f["out_of_sample"].get(name) for f in fold_rows]
    numeric = [v for v in oos_values if isinstance(v, int | float)]
    summary = {
        "folds": len(fold_rows),
        "compounded_return_pct": (growth - 1) * 100,
        f"mean_{name}": sum(numeric) / len(numeric) if numeric else None,
    }
    return SweepOutcome(pool.engine, board, 0, fold_rows, summary)
