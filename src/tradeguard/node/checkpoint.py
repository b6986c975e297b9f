"""What the node writes so a restart continues where it stopped, and how it reads it back."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from tradeguard.backtest.replay_state import (
    CURSOR_ORDER,
    done_at,
    load_replay_state,
    save_replay_state,
)
from tradeguard.clock import SimulatedClock
from tradeguard.model.enums import Side, TradingMode
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle
from tradeguard.model.money import ZERO
from tradeguard.node.stats import CURSOR_KEY, EQUITY_KEY, FIGURES_KEY, STATS_KEY, RunStats
from tradeguard.node.valuation_view import VALUATION_KEY, valuation_json
from tradeguard.portfolio.equity import EquityTracker
from tradeguard.portfolio.figures import TradeTotals
from tradeguard.storage.repository import RunState
from tradeguard.storage.types import jsonable
from tradeguard.strategies.base import Strategy

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger(__name__)

# the mark guard's last accepted mark per (venue, symbol) of a streaming run: [[venue, symbol,
# price], ...]; a replay stores the whole guard with each commit instead (save_state)
MARK_GUARD_KEY = "mark_guard_marks"
_STREAMING = (TradingMode.SANDBOX, TradingMode.LIVE)


def checkpoint(
    node: TradingNode, ts: int, done_at_ts: int = 0, unstorable: dict[str, str] | None = None
) -> None:
    """Commit the cursor, run figures, strategy run states and open positions at `ts`.

    `unstorable` (the stop's last checkpoint): a strategy whose state cannot be stored keeps
    its last stored one, and the line saying why is put there under its id; without it, such
    a state ends the checkpoint (`stored_state`)."""
    due = [s for s in node.strategies if s.save_due]
    try:
        _checkpoint(node, ts, done_at_ts, unstorable)
    except BaseException:
        for strat in due:  # nothing was stored (a commit a locked database refused)
            strat.save_due = True
        raise
    node.risk.flush()


def _checkpoint(
    node: TradingNode, ts: int, done_at_ts: int, unstorable: dict[str, str] | None
) -> None:
    with node.storage.transaction():
        node.storage.kv_set(CURSOR_KEY, ts)
        node.storage.kv_set(STATS_KEY, stats_json(node))
        node.storage.kv_set(FIGURES_KEY, node.figures().to_json())
        node.storage.kv_set(VALUATION_KEY, valuation_json(node, ts))
        if node.config.mode in _STREAMING:
            marks = node.risk.mark_guard.accepted()
            node.storage.kv_set(MARK_GUARD_KEY, [[v, s, str(p)] for (v, s), p in marks.items()])
        for strat in node.strategies:
            state = changing_run_state(node, strat.id)
            fill_run_state(node, state, strat.id)
            state.cursor_ts = ts
            state.state = state_to_store(node, strat, unstorable)
            strat.save_due = False  # stored here
            if strat.id in node._signal_ts:
                state.last_signal_ts = node._signal_ts[strat.id]
            if strat.id in node._trade_ts:
                state.last_trade_ts = node._trade_ts[strat.id]
            node.storage.save_run_state(state)
        for pos in node.portfolio.open_positions():
            node.storage.save_position(pos, node.portfolio.mark_of(pos.venue, pos.symbol)[0])
        save_state(node, ts, done_at_ts, fold=True, unstorable=unstorable)


def commit_candle(node: TradingNode, candles: list[Candle], i: int) -> None:
    """Commit everything candle `i` changed, with the cursor at that candle."""
    save_state(node, candles[i].ts, done_at(candles, i))
    node.storage.commit_unit()


def state_to_store(
    node: TradingNode, strat: Strategy, unstorable: dict[str, str] | None = None
) -> Any:
    """`strat`'s state to store now: its last stored one when a Ctrl-C abandoned one of its
    callbacks (node.interrupt), which may have left it half-made, counting orders it asked for
    that were dropped unsent; so when its orders were dropped unsent for a store that failed
    (node.state_saves); so, given `unstorable`, when its state cannot be stored (the line
    saying why put there under its id)."""
    saves = node.state_saves
    if strat.id in node.interrupts.abandoned or (saves is not None and strat.id in saves.unsent):
        return run_state(node, strat.id).state
    if unstorable is None:
        return stored_state(strat)
    if strat.id in unstorable:  # found so in this checkpoint already
        return run_state(node, strat.id).state
    try:
        return stored_state(strat)
    except Exception as exc:  # a strategy's own code: any error, never the stop's end
        unstorable[strat.id] = unstorable_line(strat, exc)
        return run_state(node, strat.id).state


def take_back_states(node: TradingNode, strategy_ids: list[str]) -> None:
    """Give each strategy of `strategy_ids` (abandoned in an earlier run of the node in this
    process, its state possibly half-made) its last stored state back: as a start in a new
    process reads it, its newest record's when that came after the last checkpoint."""
    from tradeguard.node.builder import RECORD_PREFIX, newest_state

    if not strategy_ids:
        return
    records = dict(node.storage.kv_prefixed(RECORD_PREFIX))
    for strat in node.strategies:
        if strat.id in strategy_ids:
            stored = newest_state(strat.id, run_state(node, strat.id).state or {}, records)
            if stored:
                strat.restore(stored)


def unstorable_line(strat: Strategy, exc: Exception) -> str:
    """One line for a state `strat` could not give at the stop (`exc`: what `stored_state`
    raised): what and where, and that its last stored state stands."""
    said = (
        str(exc)
        if isinstance(exc, ConfigError)
        else (
            f"strategy {strat.id!r} ({type(strat).__name__}) state() could not be stored: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
        )
    )
    return (
        f"{said.removesuffix('; nothing more was traded, fix the strategy and run again')}; "
        "the stop kept its last stored state instead (the next start resumes from that): "
        "fix the strategy's state() and run again"
    )


def stored_state(strat: Strategy) -> Any:
    """Return `strat.state()` as it is stored; a value JSON cannot hold stops the run with a
    line naming the strategy and where the value is (checked here, before the write, so the
    line says more than the database could)."""
    state = strat.state()
    try:
        return jsonable(state)
    except TypeError:
        from tradeguard.strategies.faults import unstorable_state  # only a failure needs it

        line = unstorable_state(strat, state)
        if line is None:
            raise
        raise ConfigError(line) from None


def stats_json(node: TradingNode) -> dict[str, Any]:
    stats = node.stats
    run = node.run_equity
    stats.start_equity = ZERO if run.start is None else run.start
    stats.peak_equity = ZERO if run.peak is None else run.peak
    stats.max_drawdown_pct = run.max_drawdown_pct
    stats.day = -1 if node._day is None else node._day
    stats.day_start_equity = node._day_start_equity
    stats.next_sample_ts = node._next_sample
    return stats.to_json()


def save_run_stats(node: TradingNode) -> None:
    """Store the run's figures now (in the caller's transaction): the stats, and the copy the
    last commit's replay state carries, which a start takes back instead."""
    stats = stats_json(node)
    data = load_replay_state(node.storage)
    node.storage.kv_set(STATS_KEY, stats)
    if data is not None:
        data["stats"] = stats
        save_replay_state(node.storage, data, node.clock.now_ms())


def save_state(
    node: TradingNode,
    ts: int,
    done_at_ts: int,
    fold: bool = False,
    unstorable: dict[str, str] | None = None,
) -> None:
    # One row, so a candle that changed something pays one extra write for all of it.
    curve = node._curve_log
    curve.take(node.equity_curve)
    if curve.fold_due(fold):
        # a failed commit stores no fold: its samples go back to the tail (the stop's
        # checkpoint that follows may have no new sample, and so no fold of its own)
        node.storage.on_rollback(partial(curve.unfold, curve.text, curve.count, curve.tail[:-1]))
        node.storage.kv_set(EQUITY_KEY, curve.fold())
    state = {
        "cursor": ts,
        "cursor_n": done_at_ts,
        "cursor_order": CURSOR_ORDER,
        "stats": stats_json(node),
        "strategies": {s.id: state_to_store(node, s, unstorable) for s in node.strategies},
        "signal_ts": node._signal_ts,
        "trade_ts": node._trade_ts,
        "curve_tail": curve.tail_text(),
    }
    if node._candle_units:
        # Written with every commit of the replay, so never older than the engine's own row.
        state["risk"] = node.risk.to_state()
    if node.alerts is not None and node.alerts.channels:  # the watch is fed only then
        state["performance"] = node.alerts.performance.to_state()
    fired = {name: t for name, paper in node._paper.items() if (t := paper.triggered_state())}
    if fired:
        state["paper_triggered"] = fired
    if node.config.mode not in _STREAMING:
        # what a resumed replay cannot rebuild from the candles before its cursor: the held
        # prints, the dropped ones remembered, and the candle each paper venue trades on
        state["mark_guard"] = node.risk.mark_guard.state()
        state["paper_candles"] = {name: paper.candle_times() for name, paper in node._paper.items()}
        used = {name: u for name, paper in node._paper.items() if (u := paper.candle_used())}
        if used:  # what in-candle fills took of those candles' volume
            state["paper_candle_used"] = used
    save_replay_state(node.storage, state, ts)


def fill_run_state(node: TradingNode, state: RunState, strategy_id: str) -> None:
    totals = node.fold_closed_trades().get(strategy_id) or TradeTotals()
    cycles = node.arb_cycles.get(strategy_id)
    if cycles is not None:  # a multi-leg strategy's trades are its cycles, as figures() counts
        totals = cycles.trade_totals(node.portfolio.price_of, totals)
    state.total_trades = totals.trades
    state.winning_trades = totals.wins
    state.losing_trades = totals.trades - totals.wins
    state.total_pnl = totals.pnl


def run_state(node: TradingNode, strategy_id: str) -> RunState:
    # Read once: this node is the only writer of its strategies' run states.
    state = node._run_states.get(strategy_id)
    if state is None:
        state = _kept_run_state(node, strategy_id, node.storage.load_run_state(strategy_id))
    return state


def load_run_states(node: TradingNode, strategy_ids: list[str]) -> None:
    """`run_state` of each of `strategy_ids` not read yet, in one read (a node's build)."""
    missing = [sid for sid in strategy_ids if sid not in node._run_states]
    if not missing:
        return
    stored = {s.strategy_id: s for s in node.storage.load_run_states()}
    for sid in missing:
        _kept_run_state(node, sid, stored.get(sid))


def changing_run_state(node: TradingNode, strategy_id: str) -> RunState:
    """`run_state` about to change for a write in the open transaction: if that rolls back, the
    node's copy is put back as it was, the last one stored (what an abandoned strategy keeps)."""
    state = run_state(node, strategy_id)
    before = replace(state)
    node.storage.on_rollback(partial(node._run_states.__setitem__, strategy_id, before))
    return state


def _kept_run_state(node: TradingNode, strategy_id: str, state: RunState | None) -> RunState:
    if state is None:
        state = RunState(strategy_id=strategy_id, status="running")
    state.updated_ts = 0  # each save stamps its own time
    node._run_states[strategy_id] = state
    return state


def restore(node: TradingNode) -> None:
    """Take back balances, positions, open orders and run figures from the database."""
    for b in node.storage.load_balances():
        node.portfolio.book(b.venue).set(b.asset, b.free, b.locked)
    for pos in node.storage.load_flat_positions() + node.storage.load_open_positions():
        node.portfolio.positions[(pos.venue, pos.symbol, pos.strategy_id)] = pos
    open_orders = node.storage.load_orders(open_only=True)
    node.orders.restore(open_orders)
    for name, paper in node._paper.items():
        last_o, last_t = _restore_paper(node, name, paper)
        paper.resume_ids(last_o, last_t)
    for order in open_orders:
        paper = node._paper.get(order.venue)
        if paper is not None:
            paper.restore_order(order)
    stats = node.storage.kv_get(STATS_KEY)
    if isinstance(stats, dict):
        node.stats = RunStats.from_json(stats)
        node.resumed = True
    _restore_replay_state(node)
    _restore_mark_guard(node)
    stats = node.stats
    node.run_equity = EquityTracker(
        peak=stats.peak_equity or None,
        start=stats.start_equity or None,
        max_drawdown=stats.max_drawdown_pct,
    )
    if isinstance(node.clock, SimulatedClock) and node.stats.last_ts:
        node.clock.advance_to(node.stats.last_ts)


def _restore_mark_guard(node: TradingNode) -> None:
    """Give the mark guard its last accepted marks back: a bad first print after a restart is
    held as any other (a streaming run's; a replay's guard sees its candles again)."""
    rows = node.storage.kv_get(MARK_GUARD_KEY) if node.config.mode in _STREAMING else None
    if not isinstance(rows, list):
        return
    marks: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        mark = _stored_mark(row)
        if mark is not None:
            marks[mark[0]] = mark[1]
    node.risk.mark_guard.restore(marks)


def _stored_mark(row: Any) -> tuple[tuple[str, str], Decimal] | None:
    """One stored [venue, symbol, price] row of `MARK_GUARD_KEY`; a damaged one is skipped
    with a warning (the guard then takes that market's first mark as it comes)."""
    try:
        venue, symbol, text = row
        price = Decimal(str(text))
        if isinstance(venue, str) and isinstance(symbol, str) and price.is_finite() and price > 0:
            return (venue, symbol), price
    except (TypeError, ValueError, ArithmeticError):
        pass
    where = f"{row[1]} on {row[0]}" if isinstance(row, list) and len(row) > 1 else "a market"
    value = row[2] if isinstance(row, list) and len(row) > 2 else row
    log.warning(
        "%s: skipped the stored mark of %s: %r is not a price above 0", MARK_GUARD_KEY, where, value
    )
    return None


def _restore_paper(node: TradingNode, venue: str, paper: Any) -> tuple[int, int]:
    """Give a paper venue its net positions back from the fills; return the highest paper
    order and trade numbers stored, so ids never repeat after a restart."""
    last_o = last_t = 0
    prefix_o, prefix_t = f"{venue}-o", f"{venue}-t"
    owner: dict[str, str] = {}  # order id: strategy, whose position its fills move
    for o in node.storage.load_orders(venue=venue):
        owner[o.client_order_id] = o.strategy_id
        if o.venue_order_id.startswith(prefix_o):
            last_o = max(last_o, int(o.venue_order_id[len(prefix_o) :] or 0))
    net: dict[str, Decimal] = {}
    held: dict[str, dict[str, Decimal]] = {}  # by symbol, by strategy: what reduce-only reads
    for f in node.storage.load_fills(venue=venue):
        if f.trade_id.startswith(prefix_t):
            last_t = max(last_t, int(f.trade_id[len(prefix_t) :] or 0))
        signed = f.base_moved if f.side is Side.BUY else -f.base_moved
        net[f.symbol] = net.get(f.symbol, ZERO) + signed
        mine = held.setdefault(f.symbol, {})
        who = owner.get(f.client_order_id, "")
        mine[who] = mine.get(who, ZERO) + signed
    # an outcome paper venue takes its data venue's markets at start: it keeps those for then
    later = hasattr(paper, "add_instruments")
    for symbol, qty in net.items():
        if symbol in paper.instruments or later:
            paper.restore_position(symbol, qty, held.get(symbol))
    return last_o, last_t


def _restore_replay_state(node: TradingNode) -> None:
    """Take back what the last commit of a replay wrote: stats, cursor, strategy states."""
    data = load_replay_state(node.storage) or {}
    for name, fired in (data.get("paper_triggered") or {}).items():
        if name in node._paper:
            node._paper[name].restore_triggered(fired)
    if node.alerts is not None and isinstance(data.get("performance"), dict):
        node.alerts.performance.load_state(data["performance"])
    tail = str(data.get("curve_tail") or "")
    node._curve_log.load(node.storage.kv_get(EQUITY_KEY), tail, node.equity_curve)
    if not data:
        node._cursor = (int(node.storage.kv_get(CURSOR_KEY) or 0), 0)
        return
    node.stats = RunStats.from_json(data.get("stats") or {})
    node.resumed = True
    node._cursor = (int(data.get("cursor", 0)), int(data.get("cursor_n", 0)))
    node._cursor_by_close = data.get("cursor_order") == CURSOR_ORDER
    if "mark_guard" in data:  # the replay's warm-up takes them back (backtest.replay)
        node._resume_marks = {
            k: data.get(k) for k in ("mark_guard", "paper_candles", "paper_candle_used")
        }
    node._strategy_states = dict(data.get("strategies") or {})
    node._signal_ts.update(data.get("signal_ts") or {})
    node._trade_ts.update(data.get("trade_ts") or {})
    node._day = None if node.stats.day < 0 else node.stats.day
    node._day_start_equity = node.stats.day_start_equity
    node._next_sample = node.stats.next_sample_ts
