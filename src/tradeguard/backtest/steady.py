"""The replay's steady stretch: candles while no order is open or waiting, one tight loop.

With no order open, none queued, trading ACTIVE, the equity cached and no replay pacing, bar
feed or skip plan, a candle's work is fixed: the clock, the market state, the mark guard and the
marks, the paper venue's candle, the equity observation (a call only when the candle may move
the equity, as in the general loop; a curve sample alone is appended inline), then its
strategies; the market state and the marks are written, and a band following the mark built,
when read (backtest/steady_pending.py).
`SteadyRun` does exactly that, its parts held in locals, until a strategy queues an intent
or something else needs the general loop (backtest/replay.py), which then finishes the last
candle: drain, price listeners, counts, checkpoint, commit, pause. What strategies observe
(the candle, the market state, the marks, positions, the clock) and the order of every step
are the general loop's; tests/test_backtest_steady.py compares both over trading strategies.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from tradeguard.backtest.bulk import DAY_MS, MergedPrices
from tradeguard.backtest.steady_pending import Pending, PendingBands
from tradeguard.model.enums import TradingState
from tradeguard.model.market import Candle
from tradeguard.model.money import ZERO
from tradeguard.venues.paper import PaperVenue

if TYPE_CHECKING:
    from tradeguard.marketdata.state import MarketState
    from tradeguard.node import TradingNode
    from tradeguard.pacing import Pacer

# What observes the equity at a candle's close (backtest.replay._observe_equity): returns the
# close times [lo, hi) over which observing it again does nothing for a candle not held.
Observe = Callable[["TradingNode", int, str, bool, bool], tuple[int, int]]


ACTIVE = TradingState.ACTIVE
Pendings = tuple[Pending, PendingBands]  # what a stretch writes when read
_SPAN = attrgetter("interval_s")


class SteadyRun:
    """Run the steady candles of a replay (see the module text)."""

    def __init__(
        self,
        node: TradingNode,
        candles: list[Candle],
        paper_by_symbol: dict[str, Any],
        observe: Observe,
        pacer: Pacer,
        watch_stop: bool,
    ) -> None:
        self.node = node
        self.sim: Any = node.clock  # a SimulatedClock (replay._modes): its `_now` set inline
        self.candles = candles
        self.observe = observe
        self.pacer = pacer
        self.watch_stop = watch_stop  # a replay that may stop before its end
        self.every = node.config.node.checkpoint_every
        # no commit interval: the general loop commits every candle that wrote, so must this
        self.commit_each = node.config.node.replay_commit_interval_s <= 0
        self.paper_by_symbol = paper_by_symbol
        exits = getattr(node, "bot_exits", None)
        listeners = node.price_listeners
        # the price listeners are the bots' exit rules alone: a candle of a symbol without an
        # exit plan calls none (the general loop's rule); any other listener: never steady
        self.exits_alone = exits is not None and all(f == exits.on_price for f in listeners)
        self.listeners_ok = not listeners or self.exits_alone
        self.n_listeners = len(listeners)
        self.watched = exits.by_symbol if exits is not None and self.exits_alone else None
        self.queue = node._ctx.queue
        # per symbol: its mark guard key (untagged candles), its paper venue, the paper venue's
        # market of it when its candle is PaperVenue.on_candle's (inline), its strategies, the
        # float shadow of its band (`_shadow`), its strategy when it has one alone (called
        # directly)
        self.slots: dict[str, tuple[tuple[str, str], Any, Any, tuple[Any, ...], list[Any], Any]] = {
            dc.symbol: (("", dc.symbol), paper := paper_by_symbol.get(dc.symbol),
                        _plain_market(paper, dc.symbol),
                        strats := tuple(node._by_symbol.get(dc.symbol, ())),
                        [_NO_BAND, *_UNSET], strats[0] if len(strats) == 1 else None)
            for dc in node.config.data
        }  # fmt: skip
        self.merged = merged = _prices(node, candles)
        # the longest span (ms): the merged columns' (no pass over the candles), else the spans
        # as a set (map of the getter: no bytecode a candle), then the largest
        self.longest_ms = (merged.longest_ms if merged is not None
                           else max(set(map(_SPAN, candles)), default=0) * 1000)  # fmt: skip
        self.block: tuple[Any, ...] = (-1,)  # the last `_block`
        floats = self.merged is not None and bool(self.merged.close[0])  # a zero close: none
        # the guard's factors (kept alive: looked up by identity) and their float multipliers
        self.fracs = fracs = node.risk.mark_guard._fracs
        self.ffacs = {id(fr): _float_factors(fr) if floats else None for fr in fracs}

    def ready(self) -> bool:
        """Whether the next candles may run steadily."""
        node = self.node
        return (
            not node._ctx.queue
            and not node.orders.open
            and node.risk.state is TradingState.ACTIVE
            and node.risk.flatten_asked is None
            and not node._equity_dirty
            and node.held_cached() is not None
            and self.listeners_ok
            and len(node.price_listeners) == self.n_listeners
            and not node.market.candle_listeners
        )

    def run(self, i: int, lo: int, hi: int, commit_due: float) -> tuple[int, int, int]:
        """Run candles from `i` while steady; return (k, lo, hi): candles i..k-1 are done, and
        candle k is done through its strategies (its drain, listeners, counts, checkpoint and
        commit are the caller's); k = i - 1 when candle i cannot run steadily (nothing done).
        `lo`, `hi`: the close times over which a candle not held observes no equity."""
        if not self.ready():
            return i - 1, lo, hi
        _share_keys(self.slots, self.node.risk.mark_guard._bands)
        last = min(len(self.candles) - 1, (i // self.every + 1) * self.every - 1)  # checkpoint
        last = min(last, i - i % BLOCK + BLOCK - 1)  # and the end of its block (`_block`)
        node, base = self.node, i - i % BLOCK
        market, portfolio, guard = node.market, node.portfolio, node.risk.mark_guard
        slots = _settled_slots(self.slots, market, portfolio._marks)
        pend = Pending(self._block(i)[1], i - base, market, portfolio._marks, len(slots))
        market.pending = portfolio.pending = pend  # written when read (steady_pending.py)
        guard.pending = bands = PendingBands(guard._bands, [(s[0], s[4]) for s in slots.values()])
        try:
            k, lo, hi = self._stretch(i, last, lo, hi, commit_due, slots, (pend, bands))
        finally:
            market.pending = portfolio.pending = guard.pending = None
            pend.settle()
            bands.settle()
        self._count(i, k)
        return k, lo, hi

    def _stretch(
        self, i: int, last: int, lo: int, hi: int, commit_due: float, slots: Any, pending: Pendings
    ) -> tuple[int, int, int]:
        """`run`'s loop over candles i..last (its locals bound once): `slots` those of the
        symbols whose market state and marks, and bands, `pending` writes when read."""
        (node, sim, perf, ffacs, guard, risk, queue, marks, no_band, watch, observe, watched,
         pacer, watch_stop, commit_each, unit, rare) = self._parts()  # fmt: skip
        base, candles, closes, lows, highs, stamps, origin = self._block(i)  # k from base
        held, n_marks, now, k = node._held, len(marks), sim._now - origin, i - 1 - base
        (pend, pb), rlo, rhi = pending, lo - origin, hi - origin  # [lo, hi) as in `stamps`
        for k in range(i - base, last - base + 1):  # k: the last candle begun (returned)
            c = candles[k]
            slot = slots.get(symbol := c.symbol)
            if slot is None or c.venue:  # tagged: the general loop keeps it per venue
                k -= 1
                break
            pend.cur = k  # market.on_candle(c) and its mark, written when read (`Pending`)
            key, paper, p_market, strats, sh, solo = slot
            cf, at = closes[k], stamps[k]  # close as a float (`_shadow`: low, high); close time
            if at > now:  # ms less `origin` (one-digit ints: their compares specialised)
                now, sim._now = at, at + origin
            close = c.close
            if pb.touched:  # a band may have been replaced: each shadow checked again
                _resync(pb)
            band = sh[0]  # guard.take_candle, its common cases decided on floats
            if band is no_band or watch:
                taken = _exact(guard, key, c, at + origin, sh, cf, ffacs, pend, k, marks)
            elif sh[1] <= cf <= sh[2]:  # near the band's mark: the band stands
                band[2] = close
                taken = 2 if (sh[5] <= lows[k] and highs[k] <= sh[6]) or _admits(pb, key, c) else 1
            elif (cf < sh[3] or cf > sh[4]) and sh[5] <= cf <= sh[6] and band[6] is sh[7]:
                band[2] = close  # the band follows the mark: built when read (`PendingBands`)
                d_in, u_in, nd_in, nu_in, nd_out, nu_out, lowest, highest = sh[8]
                sh[9], pb.dirty = close, True
                if lowest <= cf <= highest:  # the new bounds normal floats (`_NORMAL`)
                    sh[1], sh[2], sh[3], sh[4], sh[5], sh[6] = (
                        cf * nd_in, cf * nu_in, cf * nd_out, cf * nu_out, cf * d_in, cf * u_in,
                    )  # fmt: skip
                else:  # no shadow: the Decimals decide this band's candles (built now)
                    pb.settle()
                    sh[0] = _NO_BAND
                taken = 2 if (sh[5] <= lows[k] and highs[k] <= sh[6]) or _admits(pb, key, c) else 1
            else:
                taken = _exact(guard, key, c, at + origin, sh, cf, ffacs, pend, k, marks)
            if taken == 2 and paper is not None:
                # paper.on_candle(c), inline while no order works (none in a steady run)
                if p_market is not None and not p_market.working and not p_market.stops:
                    p_market.candle, p_market.candle_used = c, ZERO
                else:
                    paper.on_candle(c)
            if held is None or symbol in held or not rlo <= at < rhi or len(marks) != n_marks:
                ts = at + origin
                lo, hi, held, n_marks = _observed(node, observe, ts, symbol, (lo, hi), held)
                rlo, rhi = lo - origin, hi - origin
                for strat in strats:
                    strat.on_candle(c)
                if queue or node._equity_dirty or risk.state is not ACTIVE:
                    break
                if risk.flatten_asked is not None:
                    break
            elif solo is not None:  # its strategy alone: no loop over one
                solo.on_candle(c)
                if queue:
                    break
            else:
                for strat in strats:
                    strat.on_candle(c)
                if queue:
                    break
            if rare and ((watched and watched.get(symbol)) or (commit_each and unit.dirty)):
                break  # the bots' exit rules look at this close; each candle that wrote commits
            if EIGHTH[k] and (pacer.due() or (unit.dirty and perf() >= commit_due)):
                break
            if watch_stop and node._stop_requested:
                break
        return k + base, lo, hi

    def _parts(self) -> tuple[Any, ...]:
        """What `_stretch` holds in locals (the last: whether exit rules or commits may end a
        stretch)."""
        node = self.node
        guard = node.risk.mark_guard
        return (node, self.sim, time.perf_counter, self.ffacs, guard, node.risk, self.queue,
                node.portfolio._marks, _NO_BAND, guard._watch, self.observe, self.watched,
                self.pacer, self.watch_stop, self.commit_each, node.storage.unit_status(),
                self.watched is not None or self.commit_each)  # fmt: skip

    def _block(self, i: int) -> tuple[Any, ...]:
        """The block of `BLOCK` candles holding candle i: its first index, its candles and their
        close, low and high floats and close times as lists (`_prices`), the last one kept;
        then the origin the close times are counted from (ms): the middle of the block's
        close times where they span under `SMALL_MS` (each then a one-digit int, whose
        compares the interpreter specialises), else 0."""
        base = i - i % BLOCK
        if self.block[0] != base:
            part = self.candles[base : base + BLOCK]
            merged = self.merged
            if merged is not None:
                cols = merged.close, merged.low, merged.high
                lists = [col[base : base + BLOCK].tolist() for col in cols]
                ts = merged.close_ts[base : base + BLOCK]
                first, last = int(ts.min()), int(ts.max())
                origin = (first + last) // 2 if last - first < SMALL_MS else 0
                lists += [(ts - origin).tolist(), origin]
            else:
                zeros = [0.0] * len(part)
                lists = [zeros, zeros, zeros, [c.ts + c.interval_s * 1000 for c in part], 0]
            self.block = (base, part, *lists)
        return self.block

    def _count(self, i: int, k: int) -> None:
        """Count candles i..k-1 in the run's figures (the caller counts candle k)."""
        if k > i:
            stats = self.node.stats
            stats.events += k - i
            self.node._events_this_run += k - i
            stats.first_ts = self._earliest_open(i, k, stats.first_ts)

    def _earliest_open(self, i: int, k: int, first: int) -> int:
        """The earliest open time of candles i..k-1 and `first` (0: none yet), the run's period
        start. In close order a candle closing the longest span after `first` opens after it,
        and so do all after it: the scan stops there (at once, once the run has begun)."""
        candles, longest = self.candles, self.longest_ms
        for m in range(i, k):
            c = candles[m]
            if first and c.ts + c.interval_s * 1000 - longest >= first:
                break
            if c.ts < first or not first:
                first = c.ts
        return first


# A band's float shadow is taken to decide only beyond this relative margin of its Decimal
# bounds: the floats of a candle's prices are the nearest floats of its Decimals, a factor's
# float and a product each within half a unit in the last place (2**-53 relative), so a float
# compare this far inside a bound decides as the Decimal compare would; nearer, the Decimals do.
MARGIN = 2.0**-40
# ... which holds for normal floats only: under 2**-1022 a float is a whole multiple of 5e-324
# (a product rounded by up to half of it), past the largest float infinite. A band with a
# bound out of that range has no shadow (`_float_factors`: the closes that give none).
_NORMAL = (2.0**-1022, sys.float_info.max)
_NO_BAND: list[Any] = []  # no band is this object: a shadow that stands for none
_UNSET = [None] * 9  # the rest of a shadow that stands for none (`_shadow`)
# The loop reads its candles' prices from lists made for a block of this many candles at a time
# (`SteadyRun._block`): held for the whole replay they would take some 180 bytes a candle. A
# multiple of 8 (the loop's pacing check falls on the same candles).
BLOCK = 4096
# Whether a block's candle k is one of every eighth (`not k & 7`: an `&` of ints is not
# specialised by the interpreter, a tuple's item is).
EIGHTH = (True, *(False,) * 7) * (BLOCK // 8)
# A block's close times are counted from their middle where they span less than this (ms,
# about 21 days): each, and a day's span either side, is then under 2**30 from it, an int of
# one digit (`SteadyRun._block`).
SMALL_MS = 2**31 - 2**28


def _prices(node: TradingNode, candles: list[Candle]) -> MergedPrices | None:
    """The merged candles' (close, low, high) floats and close times (runner: `merged_prices`);
    None for other candles, whose rows are zeros and their close times (no shadow is built on
    a zero close: the Decimals decide every candle)."""
    prices: MergedPrices | None = getattr(node, "merged_prices", None)
    if (
        prices is not None
        and candles is getattr(node, "merged", None)
        and len(prices) == len(candles)
        and len(prices)
    ):
        return prices
    return None


def _float_factors(factors: tuple[Decimal, ...]) -> tuple[float, ...] | None:
    """A band's multipliers with the margin taken inward (in) and outward (out): limit low in,
    high in, near range low in, high in, low out, high out; then the lowest and highest close
    whose six bounds are all normal floats (`_NORMAL`, a margin inside). None for a limit off
    or of 100 % or more (a bound at or below zero: the Decimals decide)."""
    f, down, up, near_down, near_up = factors
    if not f or down <= 0 or near_down <= 0:
        return None
    d, u, nd, nu = float(down), float(up), float(near_down), float(near_up)
    inward, outward = 1 + MARGIN, 1 - MARGIN
    six = (d * inward, u * outward, nd * inward, nu * outward, nd * outward, nu * inward)
    return *six, _NORMAL[0] / min(six) * inward, _NORMAL[1] / max(six) * outward


def _shadow(sh: list[Any], band: list[Any], close: float, ff: tuple[float, ...] | None) -> None:
    """Make `sh` the float shadow of `band`, just built on a close whose float is `close`:
    [band, near low in, near high in, near low out, near high out, limit low in, limit high
    in, the band's factors, their floats, the close the band is to be built on (None: built;
    `PendingBands`)]. A close within the inner bounds is within the Decimal ones; one beyond
    the outer bounds, beyond them."""
    if ff is None or not ff[6] <= close <= ff[7]:
        sh[0] = _NO_BAND  # no close, or a bound out of the normal floats (`_NORMAL`)
        return
    d_in, u_in, nd_in, nu_in, nd_out, nu_out = ff[:6]
    sh[:] = [band, close * nd_in, close * nu_in, close * nd_out, close * nu_out, close * d_in,
             close * u_in, band[6], ff, None]  # fmt: skip


def _resync(pb: PendingBands) -> None:
    """Make each shadow of `pb` whose band is no longer the guard's stand for none (its next
    candle then decided by the guard, `_exact`): a guard's method may have replaced a band
    (each settles `pb` first, which marks it `touched`)."""
    pb.touched = False
    bands = pb.bands
    for key, sh in pb.shadows:
        if sh[0] is not _NO_BAND and bands.get(key) is not sh[0]:
            sh[0] = _NO_BAND


def _admits(bands: PendingBands, key: tuple[str, str], c: Candle) -> bool:
    """The Decimal test of a bar within the limit of the band of `key` (built if noted):
    `MarkGuard.admits_bar`'s."""
    band = bands.band(key)
    return bool(band[0] <= c.low and c.high <= band[1])


def _exact(
    guard: Any,
    key: tuple[str, str],
    c: Candle,
    close_ts: int,
    sh: list[Any],
    cf: float,
    ffacs: dict[int, tuple[float, ...] | None],
    pend: Pending,
    k: int,
    marks: dict[str, Any],
) -> int:
    """`guard.take_candle` of an untagged candle (candle k of `pend`), the Decimals deciding:
    no shadow of the band, a suspect watched, or a float too near a bound. The market state
    written first, the mark once taken, the bands built (nothing left pending). A band built
    anew on its close gets its shadow."""
    close = c.close
    pend.now(k)
    band = guard._settled().get(key)
    taken: int = guard.take_candle("", c.symbol, close, c.low, c.high, c.ts, close_ts)
    if taken:
        marks[c.symbol] = close
    new = guard._bands.get(key)
    if new is not None and new is not band and new[2] is close:  # built on this close
        _shadow(sh, new, cf, ffacs.get(id(new[6])))
    return taken


def _settled_slots(
    slots: dict[str, tuple[Any, ...]], market: MarketState, marks: dict[str, Any]
) -> dict[str, tuple[Any, ...]]:
    """`slots` of the symbols already in the market state's dictionaries and in `marks`: a
    `Pending` settling their candles only overwrites values (another symbol's candle ends the
    stretch; the general loop stores it)."""
    m_candles, m_last, m_mid, quotes = market._candles, market._last_ms, market._mid, market.quotes
    ok = {
        s: slot
        for s, slot in slots.items()
        if s in marks and s in m_candles and s in m_last and (s in quotes or s in m_mid)
    }
    return slots if len(ok) == len(slots) else ok


def _plain_market(paper: Any, symbol: str) -> Any:
    """The paper venue's market of `symbol` when its candle handler is PaperVenue's own, else
    None (its candles then go to `paper.on_candle`). A paper venue lists its markets when made
    and may list more later, never replacing one: the market found here stays the venue's."""
    if paper is None or type(paper).on_candle is not PaperVenue.on_candle:
        return None
    return paper._markets.get(symbol)


def _share_keys(slots: dict[str, tuple[Any, ...]], bands: dict[tuple[str, str], Any]) -> None:
    """Give each slot the mark guard's own key object of its band (an equal key found by
    identity: no tuple comparison a candle)."""
    own = {k: k for k in bands}
    for symbol, slot in slots.items():
        key = own.get(slot[0])
        if key is not None and key is not slot[0]:
            slots[symbol] = (key, *slot[1:])


def _observed(
    node: TradingNode,
    observe: Observe,
    ts: int,
    symbol: str,
    span: tuple[int, int],
    held: frozenset[str] | None,
) -> tuple[int, int, frozenset[str] | None, int]:
    """Observe the equity at close `ts` (a candle of `symbol`) as `observe` does; return its
    span [lo, hi) (`span`: the last one), the held set and the count of marks after it. Only the
    curve's next sample due: taken here, as replay._observe_equity takes it (`still`, a span
    `observe` gave, the same UTC day, the sample due, trading ACTIVE, no provisional figure)."""
    vm, marks, units = node.portfolio.venue_marks, node.portfolio._marks, node._candle_units
    lo, hi = span
    # the general loop's `still`: the held set current, the symbol not held, the equity cached
    still = (
        held is not None
        and node._held_n == node.portfolio.marks_version()
        and node._held_tagged is bool(vm)
        and symbol not in held
        and not node._equity_dirty
    )
    if (
        still
        and units
        and lo < hi <= ts
        and lo == ts // DAY_MS * DAY_MS
        and node._day == ts // DAY_MS
        and ts >= node._next_sample
        and node.risk.state is ACTIVE
        and node.risk.provisional is None
    ):  # a span `observe` gave (not an empty one), still the day's; its sample due
        node.equity_curve.append((ts, node._equity))  # the unchanged equity
        node._next_sample = ts + node.equity_sample_ms
        return lo, min(lo + DAY_MS, node._next_sample), node._held, len(marks)
    lo, hi = observe(node, ts, symbol, units, still)
    return lo, hi, node.held_cached(), len(marks)
