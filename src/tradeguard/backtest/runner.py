"""Run one backtest: a clean run directory, the node on a simulated clock, batch commits.

```python
result = run_backtest(load_config("bt.toml"), Path("backtests/ema"), BacktestWindow())
result.metrics["sharpe"], result.run_dir / "report.html"
```

The node, its risk engine, order journal and paper venue are the ones a paper run uses; only
the commit policy differs: the replay's unit of work (the same journal code) commits when the
trading state changes and at the end instead of every 0.1 s (a killed backtest is rerun from
the start, never resumed).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tradeguard.backtest import forked
from tradeguard.backtest.bulk import MergedPrices, SkipPlan, merge_with_plan, merged_prices
from tradeguard.backtest.frames import load_series
from tradeguard.backtest.metrics import TradeRecord, compute_metrics
from tradeguard.backtest.replay_order import merged_by_close
from tradeguard.backtest.trades import trade_records
from tradeguard.backtest.vector import FrameStrategy
from tradeguard.clock import SimulatedClock
from tradeguard.config import Config
from tradeguard.marketdata.arrow_candles import columns_of
from tradeguard.model.enums import TradingMode
from tradeguard.model.errors import ConfigError, TradeguardError
from tradeguard.model.fill import Fill
from tradeguard.model.market import Candle
from tradeguard.node import RunSummary, TradingNode

DB_NAME = "backtest.db"
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BacktestWindow:
    """What part of the data to replay, and at which timeframe."""

    start_ms: int | None = None
    end_ms: int | None = None
    timeframe_s: int | None = None
    commit_every: int = 20_000  # candles per checkpoint (progress, kill sentinel)
    # skip the candles without a signal while nothing is held (vectorised strategies only)
    skip_flat: bool = True
    # deliver the candles a skip would leave out, and refuse a strategy acting on one
    # (backtest/bulk.py QuietSymbols): what a strategy's own tests use to check its declaration
    check_exits: bool = False


@dataclass(repr=False)
class BacktestResult:
    """A finished backtest: where it lives and what it found."""

    run_dir: Path
    metrics: dict[str, Any]
    trades: list[TradeRecord]
    curve: list[tuple[int, float]]
    summary: RunSummary
    candles: dict[str, list[Candle]] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short: asyncio.run formats its main task (and so this result) as it returns, and a
        # repr of every candle and curve point took a third of a second.
        return f"BacktestResult({str(self.run_dir)!r}, trades={len(self.trades)})"


BACKTEST_COMMIT_INTERVAL_S = 3600.0
BACKTEST_PACE_SLICE_S = 0.05  # seconds of replay between pauses of the event loop
QUIET_GC_THRESHOLD = 200_000  # allocations between young collections while a backtest runs


class BacktestNode(TradingNode):
    """The trading node replaying series loaded (cut and resampled) before it starts."""

    disposable_db = True  # its run directory's database: a killed run is run again
    # Its loop serves nothing else (no API, no alerts: backtest_config turns them off), so the
    # replay pauses rarely: at paper's 0.5 ms slices, ~900 pauses a run were ~1 % of its CPU.
    # Still bounded, for a caller that runs arun_backtest beside other work on its loop.
    pace_slice_s = BACKTEST_PACE_SLICE_S

    series: dict[str, list[Candle]]
    merged: list[Candle] | None = None
    # the merged candles' (close, low, high) as floats and close times, when every series has
    # its loaded columns (bulk.merged_prices)
    merged_prices: MergedPrices | None = None
    skip_plan: SkipPlan | None = None
    check_exits = False  # BacktestWindow.check_exits
    # BacktestWindow.start_ms: a longer bar (`timeframes`) opening before it is not handed on
    bars_from_ms: int | None = None

    def candle_stream(self) -> Iterator[Candle]:
        if self.merged is not None:
            return iter(self.merged)
        return merged_by_close(self.series.values())  # the order of merge_with_plan, lazily


def prepare_run_dir(run_dir: Path) -> Path:
    """Create a fresh run directory; refuse one that already holds a run."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir}: not a directory; give a new or empty directory")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(
            f"--out {run_dir}: the directory is not empty; every backtest starts clean in its "
            "own directory (pick a new --out or remove that one)"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {run_dir}: cannot create it ({exc.strerror})") from None
    return run_dir


def default_run_dir(base: Path = Path("backtests")) -> Path:
    """Return `backtests/YYYYmmdd-HHMMSS[-n]`, a directory name not taken yet."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    candidate = base / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def backtest_config(config: Config, run_dir: Path) -> Config:
    """Return a copy of `config` that runs as a backtest writing only inside `run_dir`."""
    bt = config.model_copy(deep=True)
    bt._source_dir = config.source_dir
    try:
        bt.mode = TradingMode.BACKTEST  # re-checks what only paper and backtest configs need
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(
            f"this config cannot run as a backtest: {first['msg'].removeprefix('Value error, ')} "
            "(a backtest replays the config's [[data]] files on paper venues)"
        ) from None
    bt.node.database_url = f"sqlite:///{(run_dir / DB_NAME).resolve()}"
    bt.node.kill_sentinel = str((run_dir / "tradeguard.kill").resolve())
    bt.node.replay_speed = 0
    bt.api.enabled = False
    bt.alerts.enabled = False
    return bt


def run_backtest(
    config: Config,
    run_dir: Path,
    window: BacktestWindow | None = None,
    progress: Progress | None = None,
    series: dict[str, list[Candle]] | None = None,
) -> BacktestResult:
    """Run `config` as a backtest in the fresh directory `run_dir`; return its figures."""
    # The candles, journal, fills and curve live until the run ends: the cyclic collector would
    # only rescan them (a tenth of the CPU of an order-heavy run) for no memory back. It still
    # runs, rarely, so a very long backtest that does make cycles gets them back.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], QUIET_GC_THRESHOLD), 50, 50)
    try:
        return asyncio.run(arun_backtest(config, run_dir, window, progress, series))
    finally:
        gc.set_threshold(*thresholds)


async def arun_backtest(
    config: Config,
    run_dir: Path,
    window: BacktestWindow | None = None,
    progress: Progress | None = None,
    series: dict[str, list[Candle]] | None = None,
) -> BacktestResult:
    """`run_backtest` for a caller already inside an event loop."""
    window = window or BacktestWindow()
    prepare_run_dir(run_dir)
    bt = backtest_config(config, run_dir)
    if series is None:
        series = load_series(bt, window.start_ms, window.end_ms, window.timeframe_s)
    if not any(series.values()):
        raise ConfigError("no candles in the chosen window (check --from/--to and [[data]])")
    check_series(series)
    bt.node.checkpoint_every = window.commit_every
    # The replay's unit of work, committed rarely: a change of trading state and the end of the
    # run commit; a killed backtest is run again from the start, never resumed.
    bt.node.replay_commit_interval_s = BACKTEST_COMMIT_INTERVAL_S
    node = BacktestNode(bt, clock=SimulatedClock())
    try:
        node.series = series
        node.bars_from_ms = window.start_ms
        _precompute(node, series, window.start_ms)
        node.merged, plan = merge_with_plan(series, node.strategies)
        node.skip_plan = plan if window.skip_flat else None
        if node.skip_plan is None:  # a skip plan replays no steady stretch: no float compares
            node.merged_prices = merged_prices(series)
        node.check_exits = window.check_exits
        # the finest bar replayed: every one of its closes is a point of the curve
        interval_ms = finest_interval_s(series) * 1000
        node.equity_curve = deque()
        node.equity_sample_ms = interval_ms
        fills: list[Fill] = []  # as applied: the report needs them, not a read of the journal
        node.orders.fill_listeners.append(lambda fill, _order: fills.append(fill))
        summary = await _drive(node, progress)
        return _collect(node, summary, run_dir, series, fills)
    finally:
        node.close()


def check_series(series: dict[str, list[Candle]]) -> None:
    """Refuse a series holding candles of another symbol than its key (strategies, skips and
    figures find a symbol's candles under its key)."""
    for key, candles in series.items():
        if not candles:  # none in the window: nothing of another symbol
            continue
        if columns_of(candles) is not None:
            symbols = {candles[0].symbol}  # one file's columns: one symbol, one timeframe
        else:
            symbols = {c.symbol for c in candles}
        if symbols and symbols != {key}:
            raise ConfigError(
                f"series {key!r} holds candles of {', '.join(sorted(symbols))}: each series "
                "holds the candles of one symbol, under that symbol as its key"
            )


def finest_interval_s(series: dict[str, list[Candle]]) -> int:
    """The shortest bar of every series (a series may mix timeframes)."""
    return min(
        s[0].interval_s if columns_of(s) is not None else min(c.interval_s for c in s)
        for s in series.values()
        if s
    )


async def _drive(node: TradingNode, progress: Progress | None) -> RunSummary:
    await node.start()
    summary = await node.run(until_end=True, progress=progress)
    await node.stop()
    return summary


def _precompute(node: TradingNode, series: dict[str, list[Candle]], from_ms: int | None) -> None:
    for strat in node.strategies:
        if isinstance(strat, FrameStrategy):
            strat.bars_from_ms = from_ms
            if strat.symbol in series:
                strat.precompute(series[strat.symbol])


def _collect(
    node: TradingNode,
    summary: RunSummary,
    run_dir: Path,
    series: dict[str, list[Candle]],
    fills: list[Fill],
) -> BacktestResult:
    # The journal's order: time, then as stored (a stable sort keeps the application order).
    fills.sort(key=lambda f: f.ts)
    orders = node.orders.orders.values()  # a fresh run: every order is still in memory
    trades = trade_records(node.portfolio.closed_trades, orders, fills)
    curve = [(ts, float(eq)) for ts, eq in node.equity_curve]
    start = float(summary.start_equity)
    open_since = [p.opened_ts for p in node.portfolio.open_positions() if p.opened_ts]
    period = (summary.first_ts, summary.last_ts)  # the summary's: the same figures
    metrics = compute_metrics(curve, trades, start, open_since=open_since, period=period)
    metrics["orders"] = summary.orders
    metrics["fills"] = summary.fills
    metrics["denied"] = summary.denied
    metrics["candles"] = summary.events
    metrics["open_positions"] = len(summary.open_positions)
    metrics["elapsed_s"] = summary.elapsed_s
    metrics["valuation_asset"] = node.config.node.valuation_asset
    return BacktestResult(run_dir, metrics, trades, curve, summary, series)


def _write_report(*args: Any, **kwargs: Any) -> Path:
    """Write the HTML report; its modules (the charts among them) load here, in the child that
    writes it when the outputs are written in parallel, not in the command's process."""
    from tradeguard.backtest.report import write_report

    return write_report(*args, **kwargs)


def _drop_parts(run_dir: Path) -> None:
    """Remove the half-written files (`.NAME.part`) a stopped writer left in `run_dir`."""
    for part in run_dir.glob(".*.part"):
        part.unlink(missing_ok=True)


def write_outputs(result: BacktestResult, title: str, parallel: bool = False) -> list[Path]:
    """Write the exports and the HTML report of a finished run into its directory.

    `parallel`: the report is written by a forked child while this process writes the exports
    (for a process of its own, as the console script is: see `forked`)."""
    from tradeguard.backtest.exports import mark_complete, mark_incomplete, write_exports

    report_args = (result.run_dir, title)
    report_kwargs: dict[str, Any] = {
        "metrics": result.metrics,
        "trades": result.trades,
        "curve": result.curve,
        "candles": result.candles,
    }
    mark_incomplete(result.run_dir)  # dropped once every file is written
    job = forked.start(_write_report, *report_args, **report_kwargs) if parallel else None
    try:
        written = write_exports(result.run_dir, result.metrics, result.trades, result.curve)
    except BaseException as exc:
        if job is not None and isinstance(exc, KeyboardInterrupt):
            forked.stop(job)  # Ctrl-C stops now; the report it was writing is left out
            _drop_parts(result.run_dir)
        elif job is not None:
            forked.discard(job)  # this error is the one to report
        raise
    if job is None:
        written.append(_write_report(*report_args, **report_kwargs))
    else:
        try:
            written.append(forked.join(job))
        except KeyboardInterrupt:  # the child was killed at once: its half file goes
            _drop_parts(result.run_dir)
            raise
        except forked.NoAnswer as exc:
            msg = f"{result.run_dir / 'report.html'}: not written: {exc}"
            raise TradeguardError(msg) from None
    mark_complete(result.run_dir)
    return written
