"""Skip, in one step, the candles of a backtest on which nothing can happen.

A backtest whose strategies are all vectorised (`FrameStrategy` with `signal_columns`) knows in
advance which candles carry a signal. While the node holds nothing (no open order, no position,
no base asset, trading ACTIVE), a candle without a signal changes only bookkeeping: the market
state's and the paper venue's last candle per symbol, the marks, the clock, the event counts,
the flat equity curve and the daily roll. `advance_flat` does exactly that bookkeeping for a
whole stretch of such candles at once; the next candle with a signal (or the stretch's end)
goes through the one-candle-at-a-time path as usual. While something is held, `QuietSymbols`
tells the replay which candle (no signal, its own symbol holding nothing) may leave its
strategies out. tests/test_backtest_bulk.py pins that trades, equity curve and metrics are
identical either way.

What differs: the risk engine sees the (unchanged) equity at the stretch's first and last
candle and at each new UTC day, not at every candle, so its periodic state save may fall on
another candle of the stretch; no figure depends on that.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from tradeguard.backtest.replay_order import close_order
from tradeguard.backtest.vector import FrameStrategy
from tradeguard.marketdata.arrow_candles import columns_of
from tradeguard.model.enums import TradingState
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

DAY_MS = 86_400_000


@dataclass
class SkipPlan:
    """For the merged candle list: each candle's close time, and the next candle with a signal."""

    close_ts: list[int]
    next_signal: list[int]  # index of the first candle at or after i that must run one by one
    symbols: int  # how many symbols the candles have
    ordered: bool  # the close times never go back (one timeframe): searched, not scanned
    longest_ms: int = 0  # the longest span of the candles (ms)

    @property
    def skippable(self) -> int:
        """How many candles carry no signal."""
        return sum(1 for i, j in enumerate(self.next_signal) if j != i)


def merge_with_plan(
    series: dict[str, list[Candle]], strategies: Sequence[Any]
) -> tuple[list[Candle], SkipPlan | None]:
    """Merge the series in replay order (`replay_order.close_key`: close time, then span; ties
    in series order); plan the skips when possible. A coarser bar comes after the finer bars
    within it: its close is not known before then, and the equity is sampled at every finer
    bar's close up to it."""
    import numpy as np

    lists = [s for s in series.values() if s]
    stamps = np.concatenate([_column(s, "ts") for s in lists])
    spans = np.concatenate([_column(s, "interval_s") for s in lists]) * 1000
    order = close_order(stamps, spans)
    flat = list(chain.from_iterable(lists))
    candles = list(map(flat.__getitem__, order.tolist()))
    active = _active_rows(series, strategies)
    if active is None:
        return candles, None
    merged_active = np.concatenate([active[sym] for sym, s in series.items() if s])[order]
    n = len(candles)
    signal_at = np.flatnonzero(merged_active)
    signal_at = np.append(signal_at, n)
    next_signal = signal_at[np.searchsorted(signal_at, np.arange(n))]
    closes = (stamps + spans)[order]
    ordered = bool((np.diff(closes) >= 0).all())
    longest = int(spans.max())
    return candles, SkipPlan(closes.tolist(), next_signal.tolist(), len(lists), ordered, longest)


class MergedPrices:
    """The merged candles' close, low and high (float64 columns) and close times (int64 ms),
    in `merge_with_plan`'s order: 32 bytes a candle for the whole replay, no object per price
    (the steady loop takes a block of them at a time as lists: `SteadyRun._block`), and the
    longest span of the candles (ms)."""

    __slots__ = ("close", "close_ts", "high", "longest_ms", "low")

    def __init__(self, close: Any, low: Any, high: Any, close_ts: Any, longest_ms: int) -> None:
        self.close, self.low, self.high, self.close_ts = close, low, high, close_ts
        self.longest_ms = longest_ms

    def __len__(self) -> int:
        return len(self.close_ts)


def merged_prices(series: dict[str, list[Candle]]) -> MergedPrices | None:
    """Each merged candle's close, low and high as floats (the loaded columns, each the nearest
    float of its candle's Decimal) and its close time (ms), in `merge_with_plan`'s order; None
    unless every series has its loaded columns. The steady loop compares the floats instead of
    the Decimals where they decide the same (backtest/steady.py)."""
    import numpy as np

    lists = [s for s in series.values() if s]
    columns = [columns_of(s) for s in lists]
    if not lists or any(c is None for c in columns):
        return None
    stamps = np.concatenate([_column(s, "ts") for s in lists])
    spans = np.concatenate([_column(s, "interval_s") for s in lists]) * 1000
    order = close_order(stamps, spans)
    close, low, high = (np.concatenate([c[name] for c in columns if c is not None])[order]
                        for name in ("close", "low", "high"))  # fmt: skip
    return MergedPrices(close, low, high, (stamps + spans)[order], int(spans.max()))


def _column(candles: Sequence[Candle], name: str) -> Any:
    """One int64 field of every candle: from the loaded columns when the list has them."""
    import numpy as np

    columns = columns_of(candles)
    if columns is not None:
        if name == "ts":
            return columns["ts"]
        return np.full(len(candles), candles[0].interval_s, dtype=np.int64)  # one per file
    return np.fromiter((getattr(c, name) for c in candles), np.int64, len(candles))


def _active_rows(series: dict[str, list[Candle]], strategies: Sequence[Any]) -> dict[str, Any]:
    """Per symbol, which rows must run one by one; None when some strategy cannot say."""
    import numpy as np

    out = {sym: np.zeros(len(s), dtype=bool) for sym, s in series.items()}
    for strat in strategies:
        if strat.symbol not in series:
            continue
        rows = strat.signal_rows() if isinstance(strat, FrameStrategy) else None
        if rows is None or len(rows) != len(series[strat.symbol]):
            return None  # type: ignore[return-value]
        out[strat.symbol] |= rows
    return out


def can_skip(node: TradingNode) -> bool:
    """Tell whether the node holds nothing, so that a candle without a signal is bookkeeping."""
    return (
        not node.held_symbols()  # first: what fails most (something is held)
        and not node.orders.open
        and not node._ctx.queue
        and not node.market.candle_listeners
        and _quiet_listeners(node)
        and not node._equity_dirty
        and node.risk.state is TradingState.ACTIVE
        and node._equity > 0
        and not getattr(node, "check_exits", False)  # checking: each candle is QuietSymbols'
    )


class QuietSymbols:
    """Which symbol's candle without a signal needs no strategy call: the per-symbol skip.

    A candle of a symbol nothing is held or working in (no order of it open, no position of
    its strategies, no base asset), trading ACTIVE, goes through market state, the paper venue
    and the equity observation as usual; its strategies only learn that it passed
    (`skipped_through`), as `signal_columns` promises that `on_row` would do nothing on it.
    A held symbol's candle qualifies the same way when each of its strategies holds a position
    and says the candle neither signals an exit nor reaches its stop or take-profit
    (`exit_columns`, `exit_rules`). Only symbols whose strategies all trade that one symbol are
    eligible.

    With `check_exits` (`BacktestWindow(check_exits=True)`) no candle is skipped (no flat stretch
    either): the ones that would be still reach `on_row`, and an order sent from one refuses the
    backtest, naming the strategy, the candle and the promise it broke (a counter, a stop on the
    low, a level trailed by hand: whatever `exit_columns` and `exit_rules` leave unsaid).
    """

    def __init__(self, node: TradingNode) -> None:
        self._node = node
        self._strategies: dict[str, list[FrameStrategy]] = {}
        # The price listeners are the bots' exit rules alone (else nothing qualifies): then
        # only whether those have a plan can change during the replay.
        if _exits_alone(node):
            for symbol, strategies in node._by_symbol.items():
                mine = [s for s in strategies if isinstance(s, FrameStrategy)]
                if len(mine) == len(strategies) and all(s.symbols == (symbol,) for s in mine):
                    self._strategies[symbol] = mine
        self._exits = getattr(node, "bot_exits", None)
        self._due: dict[str, tuple[Candle, Any]] | None = None
        if getattr(node, "check_exits", False):
            self._due = {}
            for mine in self._strategies.values():
                for strat in mine:
                    strat.on_row = _checked(strat, strat.on_row, self._due, node)  # type: ignore[method-assign]

    def strategies(
        self, symbol: str, held: frozenset[str] | None = None, candle: Candle | None = None
    ) -> list[FrameStrategy] | None:
        """The symbol's strategies when its candle without a signal may skip them, else None.
        `held`: the node's held symbols, when the caller has just read them; `candle`: the
        candle, for strategies holding a position (`holds_quietly`)."""
        mine = self._strategies.get(symbol)
        if mine is None:
            return None
        node = self._node
        holding = symbol in (node.held_symbols() if held is None else held)
        orders = node.orders
        if orders.open and any(o.symbol == symbol for o in orders.open.values()):
            return None
        if orders.unknown or node._ctx.queue or node.risk.state is not TradingState.ACTIVE:
            return None
        positions = node.portfolio.positions
        for strat in mine:
            pos = positions.get((strat.venue, symbol, strat.id))
            if pos is None or not pos.quantity:
                if holding:  # held, not by this strategy: its flat promise does not apply
                    return None
            elif not holding or candle is None:
                return None
            elif not strat.holds_quietly(candle, pos.avg_entry, pos.quantity > 0):
                return None  # an exit may fire on it
        exits = self._exits
        if exits is not None and exits.plans:
            return None
        due = self._due
        if due is not None and candle is not None:  # checking: delivered, and watched
            for strat in mine:
                due[strat.id] = (candle, positions.get((strat.venue, symbol, strat.id)))
            return None
        return mine


def _checked(
    strat: FrameStrategy, on_row: Any, due: dict[str, tuple[Candle, Any]], node: Any
) -> Any:
    """`on_row` refusing an order sent on a candle the skip would have left out."""

    def on_row_checked(candle: Candle, row: Any) -> None:
        quiet = due.pop(strat.id, None)
        queue = node._ctx.queue
        before = len(queue)
        on_row(candle, row)
        if quiet is not None and quiet[0] is candle and len(queue) > before:
            raise ConfigError(_broken_promise(strat, candle, quiet[1], queue[-1]))

    return on_row_checked


def _broken_promise(strat: FrameStrategy, candle: Candle, pos: Any, intent: Any) -> str:
    """The refusal of a strategy whose `on_row` acted where its declaration says it cannot."""
    when = datetime.fromtimestamp(candle.ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = (getattr(intent, "signal", None) or {}).get("reason", "")
    sent = f"sent a {intent.side.value} of {intent.amount} ({reason or 'no reason given'})"
    if pos is None or not pos.quantity:
        said = f"signal_columns {strat.signal_columns!r} are all 0 on it"
        fix = "name every column on_row enters on in signal_columns"
    else:
        rules = strat.exit_rules
        band = (
            "no exit_rules"
            if rules is None
            else f"stop_loss_pct={rules.stop_loss_pct}, take_profit_pct={rules.take_profit_pct}"
        )
        said = (
            f"exit_columns {strat.exit_columns!r} are all 0 on it and its close {candle.close} "
            f"lies inside the band of {band} around the entry {pos.avg_entry}"
        )
        fix = "declare what on_row exits on, or set exit_columns = None"
    return (
        f"strategy {strat.id}: on_row {sent} on the {strat.symbol} candle of {when}, where "
        f"its declaration promises it does nothing ({said}); a backtest skipping that candle "
        f"would differ from one that does not: {fix}"
    )


def _exits_alone(node: TradingNode) -> bool:
    """The price listeners are the bots' exit rules, or there are none."""
    exits = getattr(node, "bot_exits", None)
    if exits is None:
        return not node.price_listeners
    return all(f == exits.on_price for f in node.price_listeners)


def _quiet_listeners(node: TradingNode) -> bool:
    """Price listeners are the bots' exit rules only, with no plan to check."""
    exits = getattr(node, "bot_exits", None)
    return _exits_alone(node) and (exits is None or not exits.plans)


def advance_flat(node: TradingNode, candles: list[Candle], plan: SkipPlan, i: int, j: int) -> None:
    """Do the bookkeeping of candles[i:j] (none with a signal, the node holding nothing)."""
    equity = node._equity
    if plan.ordered:
        samples, rolls = _marks_ordered(plan.close_ts, i, j, node._next_sample, node)
    else:
        samples, rolls = _marks_scanned(plan.close_ts, i, j, node._next_sample, node)
    node.equity_curve.extend((ts, equity) for ts in samples)
    if samples:
        node._next_sample = samples[-1] + node.equity_sample_ms
    _observe_days(node, plan, [i, *rolls, j - 1], equity)
    _take_last(node, _last_of_each(candles, i, j, plan.symbols))
    n = j - i
    stats = node.stats
    stats.events += n
    node._events_this_run += n
    stats.last_ts = max(stats.last_ts, plan.close_ts[j - 1])  # the latest close: the last's
    stats.first_ts = earliest_open(candles, plan, i, j, stats.first_ts)


def earliest_open(candles: list[Candle], plan: SkipPlan, i: int, j: int, first: int) -> int:
    """The earliest open time of candles[i:j] and `first` (0: none yet). In close order, a
    candle closing a longest span after that open opens after it, and so do the candles after
    it: the scan stops there (one timeframe: at the first candle)."""
    close_ts, longest = plan.close_ts, plan.longest_ms
    for k in range(i, j):
        if first and plan.ordered and close_ts[k] - longest >= first:
            break
        ts = candles[k].ts
        if ts < first or not first:
            first = ts
    return first


def _marks_ordered(
    close_ts: list[int], i: int, j: int, next_sample: int, node: TradingNode
) -> tuple[list[int], list[int]]:
    """`_marks_scanned` for close times in order: a search per sample and per day, not a step
    per candle."""
    sample_ms, day = node.equity_sample_ms, node._day
    samples: list[int] = []
    k = bisect_left(close_ts, next_sample, i, j)
    while k < j:
        ts = close_ts[k]
        samples.append(ts)
        k = bisect_left(close_ts, ts + sample_ms, k + 1, j)
    rolls: list[int] = []
    k = i
    if close_ts[i] // DAY_MS != day:  # a day of its own, whatever the day before
        rolls.append(i)
        day = close_ts[i] // DAY_MS
    while (k := bisect_left(close_ts, (day + 1) * DAY_MS, k + 1, j)) < j:
        rolls.append(k)
        day = close_ts[k] // DAY_MS
    return samples, rolls


def _marks_scanned(
    close_ts: list[int], i: int, j: int, next_sample: int, node: TradingNode
) -> tuple[list[int], list[int]]:
    """The close times of candles[i:j] that take an equity sample (one every
    `equity_sample_ms` from `next_sample`), and the indices where a new UTC day begins."""
    sample_ms, day = node.equity_sample_ms, node._day
    samples: list[int] = []
    rolls: list[int] = []
    for k in range(i, j):
        ts = close_ts[k]
        if ts >= next_sample:
            samples.append(ts)
            next_sample = ts + sample_ms
        if ts // DAY_MS != day:
            rolls.append(k)
            day = ts // DAY_MS
    return samples, rolls


def _last_of_each(candles: list[Candle], i: int, j: int, symbols: int) -> dict[str, Candle]:
    """The last candle of each symbol among candles[i:j], in the order the symbols first appear
    there (`symbols`: how many the whole replay has): a scan back from the end until every
    symbol is found, and one from the start until each has appeared."""
    found: dict[str, Candle] = {}
    for k in range(j - 1, i - 1, -1):
        c = candles[k]
        if c.symbol not in found:
            found[c.symbol] = c
            if len(found) == symbols:
                break
    order: dict[str, Candle] = {}
    for k in range(i, j):
        symbol = candles[k].symbol
        if symbol not in order:
            order[symbol] = found[symbol]
            if len(order) == len(found):
                break
    return order


def _observe_days(node: TradingNode, plan: SkipPlan, at: list[int], equity: Any) -> None:
    """Daily summaries and the risk engine's view at the stretch's ends and each new day."""
    sim = node.clock
    for k in sorted(set(at)):
        ts = plan.close_ts[k]
        sim.advance_to(ts)  # type: ignore[attr-defined]
        d = ts // DAY_MS
        if d != node._day:
            if node._day is not None:
                node._daily_summary(node._day, ts, equity)
            node._day = d
            node._day_start_equity = equity
        node.risk.observe_equity(ts, equity)


def _take_last(node: TradingNode, last: dict[str, Candle]) -> None:
    """Leave each symbol's market state, mark, paper venue and strategies at its last candle."""
    paper_by_symbol = {dc.symbol: node._paper.get(dc.venue) for dc in node.config.data}
    marks, rebase = node.portfolio.marks, node.risk.mark_guard.rebase
    for symbol, c in last.items():
        node.market.on_candle(c)
        marks[symbol] = c.close
        rebase(c.venue, symbol, c.close)  # the guard saw none of the stretch's candles
        paper = paper_by_symbol.get(symbol)
        if paper is not None:
            paper.on_candle(c)
        for strat in node._by_symbol.get(symbol, ()):
            if isinstance(strat, FrameStrategy):  # every one is, when a plan exists
                strat.skipped_through(c)
