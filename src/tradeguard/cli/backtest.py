"""`tradeguard backtest`, `tradeguard backtest compare` and `tradeguard sweep`."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeguard.cli.common import EXIT_OK, ctrl_c_reach, ts_text, whole_number
from tradeguard.cli.main import real_console, spare_young, whole_process
from tradeguard.model.errors import ConfigError
from tradeguard.model.money import quote_of

if TYPE_CHECKING:  # `backtest --json` never loads rich (see main.LazyConsole)
    from rich.console import Console

SHOWN = (
    ("total_return_pct", "Total return %"), ("cagr_pct", "CAGR %"),
    ("sharpe", "Sharpe (daily, 365 d, rf 0)"), ("sortino", "Sortino (daily, 365 d, rf 0)"),
    ("calmar", "Calmar"), ("max_drawdown_pct", "Max drawdown %"), ("win_rate_pct", "Win rate %"),
    ("profit_factor", "Profit factor"), ("expectancy", "Expectancy per trade"),
    ("exposure_pct", "Exposure %"), ("trades", "Trades"), ("avg_duration_s", "Avg duration s"),
    ("median_duration_s", "Median duration s"), ("fees", "Fees"), ("end_equity", "End equity"),
)  # fmt: skip
_MONEY = frozenset({"end_equity"})  # in the run's valuation asset
# sums and means of the trades' P&L or fees: each trade's in its pair's quote
_TRADE_MONEY = frozenset({"expectancy", "fees"})


def add_backtest_parsers(sub: Any) -> None:
    """Register `backtest` (with `compare`) and `sweep` on the top-level parser."""
    bt = sub.add_parser(
        "backtest",
        help="replay data through a config in a fresh run directory; metrics and a report",
        description="Backtest a config: every run starts clean in its own directory.",
        epilog="example: tradeguard backtest --config examples/backtest/btc_pairs.toml "
        "--timeframe 15m --out backtests/ema15",
    )
    _window_options(bt)
    bt.add_argument("--out", help="run directory (new or empty; default backtests/<UTC time>)")
    bt.add_argument("--json", action="store_true", help="print the metrics as JSON")
    bt.add_argument(
        "--check-exits", action="store_true",
        help="skip no candle, and stop with an error naming the candle when a strategy acts "
        "on one its signal_columns / exit_columns / exit_rules say it cannot",
    )  # fmt: skip
    bt.set_defaults(func=cmd_backtest)
    inner = bt.add_subparsers(dest="backtest_command")
    cmp_ = inner.add_parser(
        "compare", help="metrics side by side and overlaid equity curves of finished runs",
        epilog="example: tradeguard backtest compare backtests/a backtests/b",
    )  # fmt: skip
    cmp_.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished run directories")
    cmp_.add_argument("--html", default="backtest-compare.html", help="comparison page to write")
    cmp_.add_argument("--json", action="store_true", help="print the table as JSON")
    cmp_.set_defaults(func=cmd_compare)
    sw = sub.add_parser(
        "sweep",
        help="run a parameter grid as independent backtests on Ray (or a process pool)",
        epilog="example: tradeguard sweep --config bt.toml --grid grid.toml --workers 2",
    )
    _window_options(sw)
    sw.add_argument("--grid", required=True, help="grid TOML ([grid] 'path' = [values])")
    sw.add_argument("--workers", type=int, default=2, help="parallel backtests (default 2)")
    sw.add_argument("--ray-address", help="join an existing Ray cluster instead of a local one")
    sw.add_argument("--no-ray", action="store_true", help="use a local process pool")
    sw.add_argument("--walk-forward", metavar="TRAIN:TEST", help="fold lengths in days, e.g. 10:5")
    sw.add_argument("--metric", help="leaderboard metric (default: the grid's, else sharpe)")
    sw.add_argument("--out", default="sweeps/latest", help="sweep directory (resumed if present)")
    sw.add_argument("--top", type=_rows, default=10, help="leaderboard rows shown")
    sw.add_argument("--json", action="store_true", help="print the outcome as JSON")
    sw.set_defaults(func=cmd_sweep)


def _window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file", required=False)
    p.add_argument(
        "--from", dest="date_from",
        help="start, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (candles opening from it)",
    )  # fmt: skip
    p.add_argument(
        "--to", dest="date_to",
        help="end, UTC, exclusive: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (candles closing by it)",
    )  # fmt: skip
    p.add_argument("--timeframe", help="aggregate candles to 1m, 5m, 15m, 1h, 4h or 1d")


def _window(args: argparse.Namespace) -> Any:
    from tradeguard.backtest.frames import parse_date, parse_timeframe
    from tradeguard.backtest.runner import BacktestWindow

    start = parse_date(args.date_from, "--from")
    end = parse_date(args.date_to, "--to")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"--to {args.date_to} must be after --from {args.date_from}")
    return BacktestWindow(
        start, end, parse_timeframe(args.timeframe),
        check_exits=bool(getattr(args, "check_exits", False)),
    )  # fmt: skip


def _config(args: argparse.Namespace) -> Any:
    from tradeguard.config import load_config

    if not args.config:
        raise ConfigError("--config FILE is required (a TOML config with [[data]] and strategies)")
    return load_config(args.config)


@contextmanager
def _bar(console: Console, label: str, hidden: bool) -> Iterator[Callable[[int, int], None]]:
    if hidden or not console.is_terminal:  # a bar that would not show: rich.progress unloaded
        yield lambda done, total: None
        return
    from rich.progress import TimeRemainingColumn

    from tradeguard.cli.bar import progress_bar

    with progress_bar(real_console(console), label, TimeRemainingColumn()) as progress:
        yield progress


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """Run one backtest, write its files and print the metrics table."""
    # numpy's OpenBLAS starts (and spins) a thread per core as it loads, ~50 ms of CPU; the
    # backtest does no linear algebra. A user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # pydantic looks for plugins in every installed package's metadata as the config's models
    # are built (~4 ms); the config needs none. PYDANTIC_DISABLE_PLUGINS="" brings them back.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # The candles, journal and curve live until the run's files are written: the cyclic
    # collector would only rescan them, ~0.2 s a run for no memory back. It still runs, rarely,
    # so a very long backtest that does make cycles gets them back.
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 50, 50)  # as run_backtest does (runner.QUIET_GC_THRESHOLD)
    try:
        return _backtest(args, console)
    finally:
        spare_young()
        gc.set_threshold(*thresholds)


def _interrupted(signum: int, frame: Any) -> None:
    """The first Ctrl-C stops the backtest where it is; more, typed while it marks its run
    directory and says its line, are ignored (a second landing there printed a traceback and
    the process ended killed by the signal instead of with 130)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _backtest(args: argparse.Namespace, console: Console) -> int:
    if whole_process():
        # Ctrl-C stops the run where it is: asyncio.run would otherwise take it as a request to
        # cancel at the next await, which the start's reconciliation drops (asyncio.wait_for of
        # an answer already there, Python 3.11) and the backtest ran on to its end.
        signal.signal(signal.SIGINT, _interrupted)
        # The data files are read on the other core while this process validates the config
        # and imports the node.
        from tradeguard.backtest import prefetch

        if args.config:
            prefetch.start_file(args.config)
        try:
            config = _config(args)
        except BaseException:
            prefetch.cancel()
            raise
    else:
        config = _config(args)
    from tradeguard.backtest.runner import default_run_dir, run_backtest, write_outputs

    window = _window(args)
    run_dir = Path(args.out) if args.out else default_run_dir()
    ours = not (run_dir.is_dir() and any(run_dir.iterdir()))  # else refused, never written
    try:
        # a Ctrl-C the main thread slept through (a strategy's sleep) wakes it
        with _bar(console, "backtest", args.json) as progress, ctrl_c_reach():
            result = run_backtest(config, run_dir, window, progress)
        title = f"Backtest {Path(args.config).name} ({run_dir.name})"
        write_outputs(result, title, parallel=whole_process())
        if whole_process():
            # Its files are written, the run is done: a Ctrl-C now would say it was stopped
            # and marked INCOMPLETE when it was neither. Printing its tables is all that is left.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        # Stopped as it ran, before its files were written: its database is there and no
        # result; marked so, as the line a Ctrl-C ends with says.
        if ours and run_dir.is_dir() and any(run_dir.iterdir()):
            from tradeguard.backtest.exports import mark_incomplete

            mark_incomplete(run_dir)
        raise
    if args.json:
        from tradeguard.backtest.exports import json_safe

        print(json.dumps(json_safe(result.metrics), indent=2))
        return EXIT_OK
    print_metrics(console, result.metrics, str(run_dir))
    return EXIT_OK


def print_metrics(console: Console, m: dict[str, Any], run_dir: str) -> None:
    """Print the metrics table, the per-pair and per-exit-reason tables and the files."""
    from rich.table import Table

    t = Table(title=f"Backtest {ts_text(m.get('first_ts'))} → {ts_text(m.get('last_ts'))} UTC")
    t.add_column("metric")
    t.add_column("value", justify="right")
    units = {key: m.get("valuation_asset") or "" for key in _MONEY}
    # the trades' figures over every pair: its quote, or each quote they mix (`BTC+USDT`)
    mixed = "+".join(sorted({quote_of(pair) for pair in m["per_pair"]} - {""}))
    units |= dict.fromkeys(_TRADE_MONEY, mixed)
    for key, label in SHOWN:
        unit = f" {units[key]}" if units.get(key) and m.get(key) is not None else ""
        t.add_row(label, _fmt(m.get(key)) + unit)
    console.print(t)
    for name, groups in (("pair", m["per_pair"]), ("exit reason", m["per_exit_reason"])):
        g = Table(title=f"Per {name}")
        for col in (name, "trades", "win rate %", "profit factor", "net P&L", "fees"):
            g.add_column(col, justify="left" if col == name else "right")
        for key, row in groups.items():
            wr = row["win_rate"] * 100 if row["win_rate"] is not None else None
            unit = quote_of(key) if name == "pair" else mixed
            quote = f" {unit}" if unit else ""
            g.add_row(key, str(row["trades"]), _fmt(wr), _fmt(row["profit_factor"]),
                      _fmt(row["net_pnl"]) + quote, _fmt(row["fees"]) + quote)  # fmt: skip
        console.print(g)
    from tradeguard.backtest.report import open_note

    if open_note(m):
        console.print(open_note(m))
    console.print(f"Run directory: {run_dir} (report.html, trades.csv, equity.csv, metrics.json)")


def _fmt(v: Any) -> str:
    from tradeguard.backtest.report import fmt

    return fmt(v)


def _param(v: Any) -> str:
    """A grid value as written: a float's own digits (0.00001, not 1e-05)."""
    from tradeguard.backtest.report import plain

    return plain(v) if isinstance(v, float) else str(v)


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """Print finished runs' metrics side by side; write the overlaid equity page."""
    from tradeguard.backtest.compare import compare_table, load_runs, render_compare

    runs = load_runs([Path(d) for d in args.run_dirs])
    rows = compare_table(runs)
    Path(args.html).write_text(render_compare(runs), encoding="utf-8")
    if args.json:
        names = [name for name, _, _ in runs]
        print(json.dumps({r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}, indent=2))
        return EXIT_OK
    from rich.table import Table

    t = Table(title="Backtest comparison")
    t.add_column("metric")
    for name, _, _ in runs:
        t.add_column(name, justify="right")
    for row in rows:
        t.add_row(*row)
    console.print(t)
    console.print(f"Equity curves overlaid in {args.html}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    """Run a grid of backtests; print the leaderboard (and out-of-sample folds)."""
    from tradeguard.cli.sweep_stop import SweepStop

    stop = SweepStop(["sweep"])
    if whole_process():  # the process ends with this command: it may keep SIGINT its own
        stop.install()
    try:
        # a Ctrl-C the main thread slept through (in its wait for the workers' next result:
        # noted just before it began, or taken by another thread) wakes it
        with ctrl_c_reach():
            return _sweep(args, console)
    finally:
        stop.cancel()


def _sweep(args: argparse.Namespace, console: Console) -> int:
    from dataclasses import replace

    from tradeguard.backtest.grid import check_metric, load_grid
    from tradeguard.backtest.pools import ray_available
    from tradeguard.backtest.sweep import run_sweep

    config = _config(args)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ConfigError(f"--out {args.out}: not a directory; give the sweep's directory")
    grid = load_grid(Path(args.grid))
    if args.metric:
        grid = replace(grid, metric=check_metric(args.metric, "--metric"))
    split = _split(args.walk_forward)
    use_ray = not args.no_ray
    from rich.console import Console

    info = Console(stderr=True, highlight=False)
    if use_ray and not ray_available():
        info.print("Ray is not installed (pip install 'tradeguard[sweep]'): using a process pool")
    with _bar(console, "sweep", args.json) as progress:
        outcome = run_sweep(
            config, grid, Path(args.out), args.workers, args.ray_address, _window(args),
            split, progress, use_ray,
        )  # fmt: skip
    if args.json:
        from tradeguard.backtest.exports import json_safe

        print(json.dumps(json_safe(outcome.__dict__), indent=2))
        return EXIT_OK
    info.print(
        f"engine: {outcome.engine}; {outcome.skipped} combination(s) resumed from {args.out}"
    )
    _print_board(console, outcome.leaderboard[: args.top], grid.metric)
    for f in outcome.folds:
        console.print(
            f"fold {f['fold']}: best {f['best']} in-sample {grid.metric.lstrip('-')}="
            f"{_fmt(f['in_sample'].get(grid.metric.lstrip('-')))}, out-of-sample return "
            f"{_fmt(f['out_of_sample'].get('total_return_pct'))} %"
        )
    if outcome.out_of_sample:
        console.print(f"out of sample: {json.dumps(outcome.out_of_sample)}")
    return EXIT_OK


_rows = whole_number(1, 1_000_000)


def _split(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"--walk-forward {text!r}: use TRAIN:TEST in whole days, e.g. 10:5")
    return int(parts[0]), int(parts[1])


def _print_board(console: Console, rows: list[dict[str, Any]], metric: str) -> None:
    from rich.table import Table

    t = Table(title=f"Leaderboard by {metric}")
    for col in ("#", "values", "sharpe", "total return %", "max dd %", "trades"):
        t.add_column(col, justify="left" if col == "values" else "right")
    for i, r in enumerate(rows, 1):
        m = r["metrics"]
        values = ", ".join(f"{k.split('.')[-1]}={_param(v)}" for k, v in r["values"].items())
        t.add_row(str(i), values, _fmt(m.get("sharpe")), _fmt(m.get("total_return_pct")),
                  _fmt(m.get("max_drawdown_pct")), _fmt(m.get("trades")))  # fmt: skip
    console.print(t)
