"""The replay loop: recorded candles through market state, strategies, risk and paper venues.

A replay commits whole candles (with only in-process paper venues, a candle's writes commit
together or not at all), so a run killed at any moment resumes from its last commit exactly.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.backtest.bulk import DAY_MS, QuietSymbols, SkipPlan, advance_flat, can_skip
from tradeguard.backtest.frames import check_bar_timeframes
from tradeguard.backtest.replay_order import merged_by_close
from tradeguard.backtest.replay_state import done_at, resume_index, traded_candles
from tradeguard.backtest.speed import ReplaySpeed
from tradeguard.backtest.steady import SteadyRun
from tradeguard.clock import SimulatedClock
from tradeguard.config import TIMEFRAME_S, Config
from tradeguard.marketdata.candles import CandleAggregator
from tradeguard.marketdata.data_files import resolve_data_path
from tradeguard.model.enums import TradingMode, TradingState
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import EventKind
from tradeguard.model.market import Candle
from tradeguard.pacing import SLICE_S, Pacer

if TYPE_CHECKING:
    from tradeguard.node import RunSummary, TradingNode

log = logging.getLogger(__name__)


def candle_stream(config: Config) -> Iterator[Candle]:
    """Yield the configured data sets' candles in replay order (`replay_order`: by close time,
    then span), parsing the files as the candles are asked for."""
    from tradeguard.marketdata.candle_files import iter_candles

    streams: list[Iterable[Candle]] = [
        iter_candles(resolve_data_path(dc.path, config.source_dir), symbol=dc.symbol)
        for dc in config.data
    ]
    yield from merged_by_close(streams)


async def replay(
    node: TradingNode, until_end: bool = True, progress: Callable[[int, int], None] | None = None
) -> RunSummary:
    """Replay the configured data through strategies, risk and the paper venue."""
    # What is alive now, then the data set, lives for the whole replay. Frozen, it is out of
    # the cyclic collector's sight: a full collection over it would stall the loop (and the
    # API it serves) for 50-100 ms. The collector gets it back when the replay ends.
    gc.freeze()
    try:
        with node.storage.holding_connection():
            return await _replay(node, until_end, progress)
    finally:
        gc.unfreeze()


def _resume_clock(node: TradingNode, last_done: Candle) -> None:
    """A resumed replay's run time and clock stand at the close of the last candle done (the
    latest close so far, in replay order). A state written before the replay order by close
    time stored that candle's open time instead: taken forward to its close here."""
    close_ts = last_done.ts + last_done.interval_s * 1000
    if node.stats.last_ts < close_ts:
        node.stats.last_ts = close_ts
    if isinstance(node.clock, SimulatedClock) and node.clock.now_ms() < close_ts:
        node.clock.advance_to(close_ts)


def _atomic_candles(node: TradingNode) -> bool:
    # With only in-process paper venues, a candle's writes commit together or not at all.
    return bool(node._paper) and len(node._paper) == len(node.venues)


async def _replay(
    node: TradingNode, until_end: bool, progress: Callable[[int, int], None] | None
) -> RunSummary:
    started = time.perf_counter()
    pacer = Pacer(getattr(node, "pace_slice_s", SLICE_S))
    # Parsed on the loop in slices, not in a thread that would hold the GIL for 5 ms at a
    # time against every API request.
    merged = getattr(node, "merged", None)  # a backtest merges its loaded series up front
    candles = merged if merged is not None else await pacer.collect(node.candle_stream())
    if (feed := BarFeed.of(node)) is not None:
        feed.check_all(candles)  # a file of two spans is refused before any candle
    gc.freeze()
    cursor, cursor_n = node._cursor
    # a cursor past the data (the files cut short since): none of it is replayed again
    by_close = node._cursor_by_close
    start_idx = (
        min(resume_index(candles, cursor, cursor_n, by_close), len(candles)) if cursor else 0
    )
    node._replay_progress = (start_idx, len(candles))
    if start_idx:
        _resume_clock(node, candles[start_idx - 1])
    if node.run_equity.start is None and node.portfolio.marks:
        node.run_equity.start = node.portfolio.equity()
    node.start_strategies()
    node._emit(
        EventKind.RUN_STARTED,
        {"mode": node.mode.value, "resumed": node.resumed, "cursor_ms": cursor},
    )
    if cursor:
        _warm_up(node, candles, start_idx)
    atomic = _atomic_candles(node)
    # A backtest's commit policy: its writes are held and run in batches at each commit.
    batch = node.mode is TradingMode.BACKTEST
    unit = node.storage.unit_of_work(batch=batch) if atomic else nullcontext()
    node._candle_units = atomic
    try:
        with unit:
            last = await _replay_loop(node, candles, start_idx, until_end, progress, pacer)
            if last >= start_idx:  # the last candle done (a stop asked for ends before the end)
                node._checkpoint(candles[last].ts, done_at(candles, last))
    finally:
        node._candle_units = False
    # where the replay stands in its data: the end, or the candle a stop asked for ended at
    _report(node, progress, max(last, start_idx - 1) + 1, len(candles))
    await node.stop_strategies()
    await pacer.pause()
    summary = node.summary(time.perf_counter() - started)
    node._emit(EventKind.RUN_FINISHED, summary.to_json())
    return summary


async def _replay_loop(
    node: TradingNode,
    candles: list[Candle],
    start_idx: int,
    until_end: bool,
    progress: Callable[[int, int], None] | None,
    pacer: Pacer,
) -> int:
    """Replay candles[start_idx:] (to a stop asked for unless `until_end`); the last one done."""
    total, every, stats = len(candles), node.config.node.checkpoint_every, node.stats
    sim, timeouts, paper_by_symbol, unit = _loop_parts(node)
    market_on_candle, take_candle = node.market.on_candle, node.risk.mark_guard.take_candle
    by_symbol, queue, price_listeners = node._by_symbol, node._ctx.queue, node.price_listeners
    open_orders, marks, risk = node.orders.open, node.portfolio.marks, node.risk
    perf, interval = time.perf_counter, node.config.node.replay_commit_interval_s
    commit_due, committed_state, i = perf() + interval, risk.state, start_idx - 1
    pace, bars, plan, next_signal, quiet, close_at, steady = _modes(node, candles, pacer, until_end)
    units, active = node._candle_units, TradingState.ACTIVE
    watched, n_listeners, lo, hi = _exit_plans_by_symbol(node), len(price_listeners), 0, 0
    while i + 1 < total and (until_end or not node._stop_requested):  # a stop: after a candle
        i += 1
        k, skipping = i - 1, None  # a steady stretch leaves its last candle's tail to this loop
        if steady is not None and not open_orders and not queue:
            k, lo, hi = steady.run(i, lo, hi, commit_due)
        symbol = (c := candles[i := max(i, k)]).symbol
        if k < i:
            if next_signal is not None and next_signal[i] != i:
                parts = (every, progress, pacer)
                j, skipping = await _skip_or_quiet(node, candles, (plan, quiet), i, parts)
                if j is not None:  # skipped through candle j
                    i, lo, hi = j, 0, 0  # the stretch moved the day and the next sample
                    continue  # a stop asked for meanwhile ends the loop there
            close_ts = c.ts + c.interval_s * 1000 if close_at is None else close_at[i]
            if pace is not None:
                await _paced_wait(node, pace, candles, i, unit.dirty and i > start_idx)
            if sim is not None and close_ts > sim._now:
                sim._now = close_ts  # sim.advance_to(close_ts), inline (two calls a candle fewer)
            market_on_candle(c)
            taken = take_candle(c.venue, symbol, c.close, c.low, c.high, c.ts, close_ts)
            if taken:  # 0: a held bad print; 1: a bar past the limit (fills nothing); 2: admitted
                marks[symbol] = c.close
                if taken == 2 and (paper := paper_by_symbol.get(symbol)) is not None:
                    paper.on_candle(c)
            if timeouts is not None and open_orders:
                await timeouts.sweep()
            held = node.held_cached()  # None when the marked symbols or own marks changed
            still = held is not None and symbol not in held and not node._equity_dirty
            if not still or not lo <= close_ts < hi or risk.state is not active:
                lo, hi = _observe_equity(node, close_ts, symbol, units, still)
            if skipping is not None:
                for skipped in skipping:
                    skipped._skipped = c  # its skipped_through(c), without the call
            else:
                if bars is not None:
                    bars.feed(c, by_symbol.get(symbol, ()))
                for strat in by_symbol.get(symbol, ()):
                    strat.on_candle(c)
        if skipping is None:
            if queue:
                await node._drain()
            if watched is None or watched.get(symbol) or len(price_listeners) != n_listeners:
                for listener in price_listeners:  # e.g. bots' exit rules, on the candle's close
                    await listener(symbol, c.close, "")
        stats.events += 1  # the candle counted in the run's figures
        node._events_this_run += 1
        if k >= i:  # done in a steady stretch, which times candles by their own span
            close_ts = c.ts + c.interval_s * 1000
        stats.last_ts = close_ts  # the period: the earliest open to the latest close (this)
        if c.ts < stats.first_ts or not stats.first_ts:
            stats.first_ts = c.ts
        if (i + 1) % every == 0 or risk.flatten_asked is not None:  # its halt stored first
            await _checkpoint_at(node, candles, i, progress)
        # Commits fall between candles (a resume redoes the rest exactly); a state change at once.
        if unit.dirty and (perf() >= commit_due or risk.state is not committed_state):
            node._commit_candle(candles, i)
            commit_due, committed_state = perf() + interval, risk.state
        if not i & 7 and pacer.due():
            await pacer.pause()  # let the API, alerts and streams run between candles
    return i


def _observe_equity(
    node: TradingNode, ts: int, symbol: str, units: bool, still: bool
) -> tuple[int, int]:
    """Observe the equity at a candle's close; return the close times [lo, hi) over which
    observing it again does nothing for a candle of a symbol not held while the cached equity
    stands (no fill or balance change since), the held set is current and trading is ACTIVE:
    the same UTC day, before the next equity-curve sample. Empty unless the replay commits whole
    candles (else every candle reaches the risk engine). The halts see every equity change as
    before: a candle that may change the equity is never left out.

    `still`: the candle is such a candle. When only the next curve sample is due, this takes it
    as `node._observe_equity` would (the unchanged equity, nothing else to do)."""
    day = node._day
    if (
        still
        and units
        and day == ts // DAY_MS
        and ts >= node._next_sample
        and node.risk.state is TradingState.ACTIVE
        and node.risk.provisional is None  # a held figure is no sample
    ):
        node.equity_curve.append((ts, node._equity))
        node._next_sample = ts + node.equity_sample_ms
    else:
        node._observe_equity(ts, symbol)
        day = node._day
    if not units or day is None:
        return 0, 0
    lo = day * DAY_MS
    return lo, min(lo + DAY_MS, node._next_sample)


def _loop_parts(node: TradingNode) -> tuple[Any, Any, Any, Any]:
    """The replay clock (None when not simulated), the order timeouts to sweep (None when no
    policy is set; on the replay's clock), the paper venue of each symbol, the unit of work."""
    sim = node.clock if isinstance(node.clock, SimulatedClock) else None
    timeouts = node.timeouts if node.timeouts.policies else None
    return sim, timeouts, _paper_for_symbols(node), node.storage.unit_status()


def _skip_parts(
    node: TradingNode, allowed: bool
) -> tuple[SkipPlan | None, Any, QuietSymbols | None, Any]:
    """The skip plan (None when candles cannot be skipped), its next signal and close time of
    each candle, and the quiet-symbol tracker it uses."""
    plan = _skip_plan(node, allowed)
    if plan is None:
        return None, None, None, None
    return plan, plan.next_signal, QuietSymbols(node), plan.close_ts


def _modes(
    node: TradingNode, candles: list[Candle], pacer: Pacer, until_end: bool
) -> tuple[Any, ...]:
    """The replay's pacing, bar feed, skip parts (`_skip_parts`) and steady stretches' loop
    (backtest/steady.py: None when pacing, a bar feed, a skip plan or a clock other than the
    simulated one needs the general loop for every candle)."""
    pace, bars = _replay_pace(node), BarFeed.of(node)
    skips = _skip_parts(node, pace is None and bars is None)
    steady = None
    if (
        pace is None
        and bars is None
        and skips[0] is None
        and isinstance(node.clock, SimulatedClock)
    ):
        paper = _paper_for_symbols(node)
        steady = SteadyRun(node, candles, paper, _observe_equity, pacer, not until_end)
    return pace, bars, *skips, steady


async def _skip_or_quiet(
    node: TradingNode,
    candles: list[Candle],
    parts: tuple[SkipPlan | None, Any],
    i: int,
    skip_parts: tuple[int, Callable[[int, int], None] | None, Pacer],
) -> tuple[int | None, list[Any] | None]:
    """Candle i has no signal: skip the stretch from it while nothing is held (return the index
    of the last candle skipped), else the strategies its candle may leave out (QuietSymbols;
    None: every one of them runs). Decided before the candle moves anything: a fill on it makes
    its strategies run."""
    plan, quiet = parts
    held = node.held_cached()
    held = node.held_symbols() if held is None else held
    if not held and can_skip(node):
        return await _skip(node, candles, plan, i, skip_parts), None
    return None, quiet.strategies(candles[i].symbol, held, candles[i])


def _exit_plans_by_symbol(node: TradingNode) -> Mapping[str, list[str]] | None:
    """When the price listeners are the bots' exit rules alone: their plans by symbol (a candle
    of a symbol without any need not call them); else None (every candle calls them)."""
    exits = getattr(node, "bot_exits", None)
    if exits is None or not all(f == exits.on_price for f in node.price_listeners):
        return None
    return exits.by_symbol


def _skip_plan(node: TradingNode, allowed: bool) -> SkipPlan | None:
    """The bulk-skip plan of a backtest of vectorised strategies (backtest/bulk.py): it skips the
    candles without a signal while nothing is held. None when pacing or a bar feed needs every
    candle."""
    plan: SkipPlan | None = getattr(node, "skip_plan", None)
    return plan if allowed else None


async def _checkpoint_at(
    node: TradingNode,
    candles: list[Candle],
    i: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """The periodic checkpoint, progress report and kill-sentinel poll after candle `i`."""
    node._checkpoint(candles[i].ts, done_at(candles, i))
    _report(node, progress, i + 1, len(candles))
    await node.poll_kill_sentinel()


def _report(
    node: TradingNode, progress: Callable[[int, int], None] | None, done: int, total: int
) -> None:
    """Note that `done` of the data's `total` candles are done (GET /state shows it); tell
    `progress`."""
    node._replay_progress = (done, total)
    if progress is not None:
        progress(done, total)


async def _skip(
    node: TradingNode,
    candles: list[Candle],
    plan: SkipPlan | None,
    i: int,
    parts: tuple[int, Callable[[int, int], None] | None, Pacer],
) -> int:
    """Advance over the candles from i without a signal (to a checkpoint at most); return the
    index of the last one done. `parts`: the checkpoint interval, the progress callback, the
    pacer (paused after the stretch when its slice is used up)."""
    every, progress, pacer = parts
    assert plan is not None  # called only with a plan
    j = min(plan.next_signal[i], (i // every + 1) * every, len(candles))
    advance_flat(node, candles, plan, i, j)
    if j % every == 0:
        node._checkpoint(candles[j - 1].ts, done_at(candles, j - 1))
        _report(node, progress, j, len(candles))
        await node.poll_kill_sentinel()
    if pacer.due():
        await pacer.pause()
    return j - 1


class BarFeed:
    """Longer bars of `[[data]] timeframes`, built as the candles pass, handed to strategies.

    A bar goes to the symbol's strategies (`on_bar`) with the candle that completes it, before
    that candle's `on_candle`. A resumed replay starts the bars afresh: the first bar of each
    timeframe after a resume may hold fewer candles than its span.
    """

    def __init__(
        self, timeframes: dict[str, tuple[str, list[str]]], from_ms: int | None = None
    ) -> None:
        # a backtest's --from: a bar opening before it is built from part of its bucket
        self._from_ms = from_ms
        self._aggs = {
            symbol: [CandleAggregator(TIMEFRAME_S[tf]) for tf in tfs]
            for symbol, (_, tfs) in timeframes.items()
        }
        self._where = {symbol: where for symbol, (where, _) in timeframes.items()}
        self._span: dict[str, int] = {}  # the span of each symbol's candles

    @classmethod
    def of(cls, node: TradingNode) -> BarFeed | None:
        """The feed for the node's `[[data]]` entries, or None when none lists timeframes."""
        wanted = {dc.symbol: (dc.path, dc.timeframes) for dc in node.config.data if dc.timeframes}
        return cls(wanted, getattr(node, "bars_from_ms", None)) if wanted else None

    def feed(self, candle: Candle, strategies: Iterable[Any]) -> None:
        """Add one candle; hand every bar it completes to `strategies`."""
        aggs = self._aggs.get(candle.symbol)
        if not aggs:
            return
        if self._span.get(candle.symbol) != candle.interval_s:
            self._check(candle, aggs)
        for agg in aggs:
            for bar in agg.update_all(candle):
                if self._from_ms is not None and bar.ts < self._from_ms:
                    continue
                for strat in strategies:
                    strat.on_bar(agg.interval_s, bar)

    def check_all(self, candles: Iterable[Candle]) -> None:
        """Check every candle as `feed` will, before the replay trades on any of them."""
        for c in candles:
            aggs = self._aggs.get(c.symbol)
            if aggs and self._span.get(c.symbol) != c.interval_s:
                self._check(c, aggs)

    def _check(self, candle: Candle, aggs: list[CandleAggregator]) -> None:
        """Check the timeframes against a symbol's first candle; refuse a candle of another
        span (replayed by close time, a coarser bar comes after the finer ones within it: the
        bars built would go back in time)."""
        where, span = self._where[candle.symbol], self._span.get(candle.symbol)
        if span is not None:
            raise ConfigError(
                f"data {where}: timeframes builds bars from candles of one span; it holds "
                f"{span}s and {candle.interval_s}s candles (the one at {candle.ts} ms); "
                "split the file by span or list no timeframes for it"
            )
        tfs = [tf for tf, s in TIMEFRAME_S.items() if any(a.interval_s == s for a in aggs)]
        check_bar_timeframes(where, tfs, candle.interval_s)
        self._span[candle.symbol] = candle.interval_s


def _replay_pace(node: TradingNode) -> ReplaySpeed | None:
    """node.replay_speed > 0 holds the replay to that many times real time."""
    speed = node.config.node.replay_speed
    return ReplaySpeed(speed) if speed > 0 else None


async def _paced_wait(
    node: TradingNode, pace: ReplaySpeed, candles: list[Candle], i: int, dirty: bool
) -> None:
    """Hold the replay to real time before candle `i`; nothing waits uncommitted."""
    if dirty:
        node._commit_candle(candles, i - 1)
    await pace.wait_until(candles[i].close_ts, lambda: _paced_stop(node))


async def _paced_stop(node: TradingNode) -> bool:
    """While a paced replay waits: watch the kill sentinel; tell whether to stop waiting."""
    await node.poll_kill_sentinel()
    return node._stop_requested


def _paper_for_symbols(node: TradingNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dc in node.config.data:
        paper = node._paper.get(dc.venue)
        if paper is not None:
            out[dc.symbol] = paper
    return out


def _last_per_symbol(candles: list[Candle], end: int) -> list[Candle]:
    """The last candle of each symbol among `candles[:end]`, in time order."""
    symbols = {c.symbol for c in candles}
    found: dict[str, int] = {}
    for j in range(end - 1, -1, -1):
        found.setdefault(candles[j].symbol, j)
        if len(found) == len(symbols):
            break
    return [candles[j] for j in sorted(found.values())]


def _warm_up(node: TradingNode, candles: list[Candle], start_idx: int) -> None:
    """Bring market state back to the last committed candle; strategies whose state was not
    restored whole are fed the candles they need, muted. The mark guard, the marks and the
    candle each paper venue trades on come back as the commit left them (a replay state written
    without the guard: rebuilt from the candles before the window)."""
    cold = [s for s in node.strategies if not s.restored_exactly]
    need = max((s.warmup_candles for s in cold), default=0)
    lo = max(0, start_idx - max(need, 1))
    for s in cold:
        s.muted = True
    stored = _restore_guard(node)
    # Every symbol's last candle before the window, as the first run had them: marks for the
    # positions of symbols whose next candle is still to come (or never comes: a finished run).
    before = _last_per_symbol(candles, lo)
    last: dict[str, Candle] = {}
    take, admits = node._take_bar, node.risk.mark_guard.admits_bar  # as the first run had it
    for c in before:
        node.market.on_candle(c)
        if not stored and take(c.venue, c.symbol, c.close, c.ts, c.ts, c.close_ts):
            node.portfolio.marks[c.symbol] = c.close
            if admits(c.venue, c.symbol, c.low, c.high):
                last[c.symbol] = c  # a held candle never reached the paper venue
    try:
        for c in candles[lo:start_idx]:
            node.market.on_candle(c)
            if not stored and take(c.venue, c.symbol, c.close, c.ts, c.ts, c.close_ts):
                node.portfolio.marks[c.symbol] = c.close
                if admits(c.venue, c.symbol, c.low, c.high):
                    last[c.symbol] = c
            for strat in node._by_symbol.get(c.symbol, ()):
                if not strat.restored_exactly:
                    strat.on_candle(c)
    finally:
        for s in cold:
            s.muted = False
        node._ctx.queue.clear()
    if stored:
        _stored_marks(node, [*before, *candles[lo:start_idx]])
        _prime_stored(node, candles, start_idx)
        return
    paper_by_symbol = _paper_for_symbols(node)
    for symbol, c in last.items():
        paper = paper_by_symbol.get(symbol)
        if paper is not None:
            paper.prime(c)


def _restore_guard(node: TradingNode) -> bool:
    """Give the mark guard back what the last commit held; False when it stored none."""
    stored = node._resume_marks
    if not isinstance(stored, dict) or not isinstance(stored.get("mark_guard"), dict):
        return False
    try:
        node.risk.mark_guard.load_state(stored["mark_guard"])
    except (LookupError, TypeError, ValueError, ArithmeticError) as exc:
        log.warning("the stored mark guard is unreadable (%r); rebuilt from the candles", exc)
        return False
    return True


def _stored_marks(node: TradingNode, seen: list[Candle]) -> None:
    """Mark each symbol of `seen` (the candles up to the window, in order) as the first run
    had it: the guard's last accepted mark of its market, or (a market it does not guard) the
    last close."""
    accepted, marks = node.risk.mark_guard.accepted(), node.portfolio.marks
    for c in seen:
        marks[c.symbol] = accepted.get((c.venue, c.symbol), c.close)


def _prime_stored(node: TradingNode, candles: list[Candle], start_idx: int) -> None:
    """Prime each paper venue with the candle it traded on at the commit (`paper_candles`) and
    what its in-candle fills had taken of that candle's volume (`paper_candle_used`); a stored
    time that is not one is skipped with a warning."""
    stored = (node._resume_marks or {}).get("paper_candles")
    all_used = (node._resume_marks or {}).get("paper_candle_used")
    for name, times in (stored if isinstance(stored, dict) else {}).items():
        paper = node._paper.get(name)
        if paper is None or not isinstance(times, dict):
            continue
        used = all_used.get(name) if isinstance(all_used, dict) else None
        wanted: dict[str, int] = {}
        for symbol, ts in times.items():
            if type(ts) is not int:  # a damaged row: that venue's candle is not primed
                log.warning(
                    "paper_candles: %r stored for %s on %s is not a candle time; skipped",
                    ts, symbol, name,
                )  # fmt: skip
                continue
            wanted[symbol] = ts
        for symbol, c in traded_candles(candles, start_idx, wanted).items():
            paper.prime(c, _used(name, symbol, used))


def _used(venue: str, symbol: str, used: Any) -> Decimal:
    """The stored volume taken from `symbol`'s candle on `venue` (0 when none was taken); a
    damaged value is taken as 0 with a warning."""
    text = used.get(symbol, "0") if isinstance(used, dict) else "0"
    try:
        value = Decimal(str(text))
        if value.is_finite() and value >= 0:
            return value
    except ArithmeticError:
        pass
    log.warning("paper_candle_used: %r taken of %s on %s is not an amount; 0", text, symbol, venue)
    return Decimal(0)
