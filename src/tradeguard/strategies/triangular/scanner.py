"""Exchange-scale cycle scanner: every directed cycle indexed once, rescored per ticker in numpy.

Each market BASE/QUOTE gives two directed edges between asset nodes: QUOTE -> BASE buys at the
ask (rate (1 - fee) / ask) and BASE -> QUOTE sells at the bid (rate bid * (1 - fee)). An edge
carries the log of its rate, so a cycle's score is a sum and a positive score is a profit.

Cycles are found once, when the markets load, by a bounded breadth-first join in numpy (no
unbounded cycle enumeration): each simple cycle of 3..max_cycle legs is kept in its canonical
rotation, starting at its smallest node id; the two directions are two cycles. They are stored
as a (cycles x max_cycle) array of edge ids, shorter cycles padded with an edge of weight 0.

Log rates are held in fixed point (int64, 2**-44 per unit, about 6e-14), so sums are exact and
independent of the order of addition. A ticker update therefore only adds each of the market's
two weight changes to the cycles using that edge (one gather, add and scatter over a
precomputed slice; no Python loop per cycle), and the result is bit-identical to a full rescan:
no drift to correct, however many updates. It stays in the tens of microseconds and may run on
the event loop. A full rescan is a gather and a sum; `rescan_async` runs it in a worker thread.

`top_ids` keeps the cycles at or above a score level (the k-th best at the last full selection)
as candidates, adding those that an update lifts above it, so picking the best cycles after an
update looks at a few dozen scores instead of partitioning all of them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tradeguard.model.enums import Side
from tradeguard.model.errors import ConfigError
from tradeguard.model.money import ZERO, dec
from tradeguard.strategies.triangular.markets import ArbMarket, Depth, Ticker
from tradeguard.strategies.triangular.opportunity import Leg, Opportunity
from tradeguard.strategies.triangular.sizing import LegBook, levels_from, max_cycle_size

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MIN_CYCLE, MAX_CYCLE = 3, 5
NEG_INF = float("-inf")
# Fixed-point log rates: a quoted edge stays within +-2**55 and a cycle of five within +-2**58;
# an unquoted edge weighs -2**59, which sinks any cycle using it below QUOTED_FLOOR, and five of
# them still fit in int64.
FIX_BITS = 44
SCALE = float(1 << FIX_BITS)
MAX_EDGE_LOG = 2048.0  # no real price gets near e**2048; beyond it an edge counts as unquoted
UNQUOTED = -(1 << 59)
QUOTED_FLOOR = -(1 << 58)  # a cycle scoring below this has an unquoted leg
HOT_MIN = 64  # candidates kept by `top_ids` between full selections
HOT_MAX = 1 << 16  # candidates beyond which the next `top_ids` selects afresh


class TriangularScanner:
    """Index every cycle of a market universe and keep their after-fee scores current."""

    def __init__(
        self,
        markets: Sequence[ArbMarket],
        *,
        max_cycle: int = 3,
        fee_override_pct: Decimal | float | None = None,
    ) -> None:
        if not MIN_CYCLE <= max_cycle <= MAX_CYCLE:
            raise ConfigError(
                f"max_cycle={max_cycle} is out of range [{MIN_CYCLE}, {MAX_CYCLE}] "
                f"(triangles are 3; longer cycles up to {MAX_CYCLE})"
            )
        fee_override: Decimal | None = None
        if fee_override_pct is not None:
            fee_override = dec(fee_override_pct, "fee_override_pct") / 100
            if not ZERO <= fee_override < 1:
                raise ConfigError(
                    f"fee_override_pct={fee_override_pct} is out of range [0, 100) (a percent)"
                )
        self.max_cycle = max_cycle
        self.markets: list[ArbMarket] = []
        self._index: dict[str, int] = {}
        for m in markets:
            if m.base == m.quote or m.symbol in self._index:
                continue
            self._index[m.symbol] = len(self.markets)
            self.markets.append(m)
        self._fees = [
            fee_override if fee_override is not None else m.taker_fee for m in self.markets
        ]
        self._log_keep = [math.log1p(-float(f)) for f in self._fees]

        # Most connected assets get the smallest ids, so canonical cycles start at a hub.
        degree: dict[str, int] = {}
        for m in self.markets:
            degree[m.base] = degree.get(m.base, 0) + 1
            degree[m.quote] = degree.get(m.quote, 0) + 1
        self.assets: list[str] = sorted(degree, key=lambda a: (-degree[a], a))
        node = {a: i for i, a in enumerate(self.assets)}
        n_markets = len(self.markets)
        base = np.array([node[m.base] for m in self.markets], dtype=np.int64)
        quote = np.array([node[m.quote] for m in self.markets], dtype=np.int64)
        # Edge 2m: quote -> base (buy at the ask); edge 2m+1: base -> quote (sell at the bid).
        self._src = np.empty(2 * n_markets, dtype=np.int64)
        self._dst = np.empty(2 * n_markets, dtype=np.int64)
        self._src[0::2], self._dst[0::2] = quote, base
        self._src[1::2], self._dst[1::2] = base, quote
        self._pad = 2 * n_markets  # the padding edge, weight 0
        self._w: IntArray = np.full(2 * n_markets + 1, UNQUOTED, dtype=np.int64)
        self._w[self._pad] = 0
        self._bid = np.full(n_markets, np.nan)
        self._ask = np.full(n_markets, np.nan)
        self._bid_size = np.full(n_markets, np.nan)
        self._ask_size = np.full(n_markets, np.nan)

        cycles = _enumerate_cycles(self._src, self._dst, len(self.assets), max_cycle, self._pad)
        # Leg-major layout: a full rescan adds whole contiguous rows of gathered weights.
        self._cycles_t: IntArray = np.ascontiguousarray(cycles.T)
        # The cycles using each edge, as views into one array: an update adds to these.
        touch, ptr = _touch_index(cycles, self._pad, 2 * n_markets)
        bounds = ptr.tolist()
        self._edge_cycles: list[IntArray] = [
            touch[bounds[e] : bounds[e + 1]] for e in range(2 * n_markets)
        ]
        # Exact sums from the start (unquoted edges included): updates only ever add to them.
        self._scores: IntArray = _score_all(self._w, self._cycles_t)
        self._dirty: set[int] | None = None  # markets updated while a threaded rescan runs
        # Running top-k: every cycle scoring at or above `_level` is in `_hot` (maybe some below).
        self._level: int | None = None
        self._hot: list[IntArray] = []
        self._hot_n = 0

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def n_cycles(self) -> int:
        """Return how many directed cycles are indexed."""
        return self._cycles_t.shape[1]

    def cycles_touching(self, symbol: str) -> int:
        """Return how many indexed cycles use the market `symbol`."""
        m = self._index.get(symbol)
        if m is None:
            return 0
        return len(self._edge_cycles[2 * m]) + len(self._edge_cycles[2 * m + 1])

    # -- updates ---------------------------------------------------------------------------------
    def _set(
        self, m: int, bid: float, ask: float, bid_size: float | None, ask_size: float | None
    ) -> None:
        keep = self._log_keep[m]
        w = self._w
        if bid > ask > 0:  # crossed: a stale side, not a price to trade at (as unquoted)
            bid = ask = 0.0
        w[2 * m] = _fixed(keep - math.log(ask)) if ask > 0 else UNQUOTED
        w[2 * m + 1] = _fixed(math.log(bid) + keep) if bid > 0 else UNQUOTED
        self._bid[m], self._ask[m] = bid, ask
        self._bid_size[m] = math.nan if bid_size is None else bid_size
        self._ask_size[m] = math.nan if ask_size is None else ask_size

    def update_ticker(
        self,
        symbol: str,
        bid: float,
        ask: float,
        bid_size: float | None = None,
        ask_size: float | None = None,
    ) -> int:
        """Apply one market's best bid/ask and rescore the cycles using it; return their count."""
        m = self._index.get(symbol)
        if m is None:
            return 0
        w = self._w
        buy, sell = 2 * m, 2 * m + 1
        old_buy, old_sell = int(w[buy]), int(w[sell])
        self._set(m, bid, ask, bid_size, ask_size)
        if self._dirty is not None:
            self._dirty.add(m)
        self._shift(buy, int(w[buy]) - old_buy)
        self._shift(sell, int(w[sell]) - old_sell)
        return len(self._edge_cycles[buy]) + len(self._edge_cycles[sell])

    def _shift(self, edge: int, delta: int) -> None:
        """Add an edge's weight change to every cycle using it (exact: integer sums)."""
        ids = self._edge_cycles[edge]
        if not delta or not len(ids):
            return
        scores = self._scores
        moved = scores[ids]
        moved += delta
        scores[ids] = moved
        level = self._level
        if delta > 0 and level is not None and moved.max() >= level:
            self._hot.append(ids[moved >= level])
            self._hot_n += len(self._hot[-1])
            if self._hot_n > HOT_MAX:
                self._drop_hot()

    def _drop_hot(self) -> None:
        self._level = None
        self._hot = []
        self._hot_n = 0

    def clear_ticker(self, symbol: str) -> int:
        """Mark a market as without quotes (its cycles drop out) and rescore them."""
        return self.update_ticker(symbol, 0.0, 0.0)

    def load_tickers(self, tickers: Mapping[str, Ticker] | Iterable[Ticker]) -> int:
        """Apply many tickers at once, then rescan everything; return how many were used."""
        items = tickers.values() if isinstance(tickers, Mapping) else tickers
        used = 0
        for t in items:
            m = self._index.get(t.symbol)
            if m is not None:
                self._set(m, t.bid, t.ask, t.bid_size, t.ask_size)
                used += 1
        self.rescan()
        return used

    def rescan(self) -> None:
        """Rescore every cycle from the current edge weights."""
        self._scores = _score_all(self._w, self._cycles_t)
        self._drop_hot()

    async def rescan_async(self) -> None:
        """Rescore every cycle in a worker thread; the event loop keeps applying updates."""
        weights = self._w.copy()
        self._dirty = set()
        try:
            scores = await asyncio.to_thread(_score_all, weights, self._cycles_t)
            # Updates applied during the rescan are newer than the copied weights: add them.
            self._scores = scores
            self._drop_hot()
            for m in self._dirty:
                for e in (2 * m, 2 * m + 1):
                    self._shift(e, int(self._w[e]) - int(weights[e]))
        finally:
            self._dirty = None

    # -- results ---------------------------------------------------------------------------------
    def scores(self) -> FloatArray:
        """Return each cycle's log growth after fees as floats (-inf when a leg is unquoted)."""
        out: FloatArray = self._scores.astype(np.float64)
        out *= 1.0 / SCALE
        out[self._scores < QUOTED_FLOOR] = NEG_INF
        out.flags.writeable = False
        return out

    def top_ids(self, n: int = 10, *, min_profit_pct: float | None = None) -> IntArray:
        """Return the ids of the n best quoted cycles, best first."""
        total = len(self._scores)
        if n <= 0 or total == 0:
            return np.empty(0, dtype=np.int64)
        floor = QUOTED_FLOOR
        if min_profit_pct is not None:
            log_floor = math.log1p(min_profit_pct / 100)
            if log_floor > -MAX_EDGE_LOG:
                floor = max(floor, math.ceil(log_floor * SCALE))
        if 2 * max(n, HOT_MIN) >= total:  # most of the cycles: rank them all
            return self._rank(np.arange(total), n, floor)
        level = self._level
        if level is not None:
            hot = self._hot[0] if len(self._hot) == 1 else np.unique(np.concatenate(self._hot))
            hot = hot[self._scores[hot] >= level]  # the rest need not be kept
            self._hot, self._hot_n = [hot], len(hot)
            # Every cycle outside `hot` scores below `level`: exact when enough are above it.
            if len(hot) >= n or floor >= level:
                return self._rank(hot, n, floor)
        return self._select(n, floor)

    def _select(self, n: int, floor: int) -> IntArray:
        """Partition every score for the best k, keep them as candidates and rank n of them."""
        scores = self._scores
        k = max(n, HOT_MIN)
        best = np.argpartition(-scores, k - 1)[:k]
        # All cycles above the k-th best score are in `best`; unquoted ones are never wanted.
        self._level = max(int(scores[best].min()) + 1, QUOTED_FLOOR)
        self._hot = [best[scores[best] >= self._level]]
        self._hot_n = len(self._hot[0])
        return self._rank(best, n, floor)

    def _rank(self, ids: IntArray, n: int, floor: int) -> IntArray:
        """Return up to n of `ids` scoring at least `floor`, best first, ties by cycle id."""
        got = self._scores[ids]
        keep = got >= floor
        ids, got = ids[keep], got[keep]
        order = np.lexsort((ids, -got))[:n]
        return ids[order].astype(np.int64)

    def top(
        self,
        n: int = 10,
        *,
        min_profit_pct: float | None = None,
        depth: Depth | None = None,
        prefer_start: Sequence[str] = (),
    ) -> list[Opportunity]:
        """Return the n best quoted cycles as opportunities, sized by depth when given."""
        return [
            self.opportunity(int(c), depth=depth, prefer_start=prefer_start)
            for c in self.top_ids(n, min_profit_pct=min_profit_pct)
        ]

    def best(self, *, depth: Depth | None = None) -> Opportunity | None:
        """Return the best quoted cycle, or None when no cycle is quoted."""
        found = self.top(1, depth=depth)
        return found[0] if found else None

    def profit_pct(self, cycle_id: int) -> float:
        """Return a cycle's top-of-book profit % after fees (-100 when a leg is unquoted)."""
        score = int(self._scores[cycle_id])
        if score < QUOTED_FLOOR:
            return -100.0
        return math.expm1(score / SCALE) * 100

    def opportunity(
        self, cycle_id: int, *, depth: Depth | None = None, prefer_start: Sequence[str] = ()
    ) -> Opportunity:
        """Describe one cycle with Decimal prices, its profit and its max executable size."""
        edges = [int(e) for e in self._cycles_t[:, cycle_id] if e != self._pad]
        start_nodes = [self.assets[int(self._src[e])] for e in edges]
        for asset in prefer_start:
            if asset in start_nodes:
                k = start_nodes.index(asset)
                edges = edges[k:] + edges[:k]
                break
        legs: list[Leg] = []
        books: list[LegBook] = []
        for e in edges:
            m = e // 2
            market = self.markets[m]
            side = Side.BUY if e % 2 == 0 else Side.SELL
            price = float(self._ask[m] if side is Side.BUY else self._bid[m])
            legs.append(
                Leg(
                    symbol=market.symbol,
                    side=side,
                    from_asset=self.assets[int(self._src[e])],
                    to_asset=self.assets[int(self._dst[e])],
                    price=dec(price) if math.isfinite(price) else ZERO,
                    fee=self._fees[m],
                )
            )
            books.append(LegBook(market, side, self._fees[m], self._levels(m, side, depth)))
        sized = max_cycle_size(books)
        return Opportunity(
            cycle_id=cycle_id,
            start_asset=legs[0].from_asset,
            legs=tuple(legs),
            profit_pct=dec(self.profit_pct(cycle_id)),
            max_size=sized.max_size,
            leg_amounts=sized.legs,
            size_limited_by=sized.limited_by,
        )

    def _levels(
        self, m: int, side: Side, depth: Depth | None
    ) -> tuple[tuple[Decimal, Decimal], ...]:
        symbol = self.markets[m].symbol
        if depth is not None and symbol in depth:
            bids, asks = depth[symbol]
            return levels_from(asks if side is Side.BUY else bids)
        price = float(self._ask[m] if side is Side.BUY else self._bid[m])
        size = float(self._ask_size[m] if side is Side.BUY else self._bid_size[m])
        if not (math.isfinite(price) and math.isfinite(size)):
            return ()
        return levels_from([(price, size)])


def _fixed(log_rate: float) -> int:
    """Return a log rate in fixed point; non-finite or absurd rates count as unquoted."""
    if not -MAX_EDGE_LOG <= log_rate <= MAX_EDGE_LOG:
        return UNQUOTED
    return round(log_rate * SCALE)


def _score_all(weights: IntArray, cycles_t: IntArray) -> IntArray:
    out: IntArray = np.take(weights, cycles_t[0])
    if len(cycles_t) > 1:
        tmp = np.empty_like(out)
        for row in cycles_t[1:]:
            np.take(weights, row, out=tmp, mode="wrap")  # ids are valid; "raise" buffers `out`
            np.add(out, tmp, out=out)
    return out


def _touch_index(cycles: IntArray, pad: int, n_edges: int) -> tuple[IntArray, IntArray]:
    """Map each edge to the ids of the cycles using it (CSR: ids, pointers)."""
    n, width = cycles.shape
    flat = cycles.ravel()
    owner = np.repeat(np.arange(n, dtype=np.intp), width)
    used = flat != pad
    edge = flat[used]
    order = np.argsort(edge, kind="stable")
    ids = owner[used][order]
    ptr = np.zeros(n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge, minlength=n_edges), out=ptr[1:])
    return ids, ptr


def _enumerate_cycles(
    src: IntArray, dst: IntArray, n_nodes: int, max_cycle: int, pad: int
) -> IntArray:
    """Find every simple directed cycle of 3..max_cycle edges once, as padded edge-id rows."""
    n_edges = len(src)
    if n_edges == 0 or n_nodes < MIN_CYCLE:
        return np.empty((0, max_cycle), dtype=np.int64)
    # Out-edges by source node (CSR) and edges by (source, target) for the closing leg.
    by_src = np.argsort(src, kind="stable")
    out_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_nodes), out=out_ptr[1:])
    pair_key = src * n_nodes + dst
    by_pair = np.argsort(pair_key, kind="stable")
    sorted_keys = pair_key[by_pair]
    reaches = np.zeros((n_nodes, n_nodes), dtype=bool)  # reaches[u, v]: an edge u -> v exists
    reaches[src, dst] = True

    # Open paths leave their start node towards larger ids only: the canonical rotation.
    keep = dst > src
    paths = np.nonzero(keep)[0].astype(np.int64)[:, None]  # (P, k) edge ids
    start = src[paths[:, 0]]
    found: list[IntArray] = []
    for length in range(2, max_cycle + 1):
        end = dst[paths[:, -1]]
        # Close: an edge end -> start (there may be several markets for one pair).
        if length >= MIN_CYCLE:
            key = end * n_nodes + start
            lo = np.searchsorted(sorted_keys, key, side="left")
            hi = np.searchsorted(sorted_keys, key, side="right")
            rows, offs = _expand(hi - lo)
            closing = by_pair[lo[rows] + offs]
            found.append(np.column_stack([paths[rows], closing]))
        if length == max_cycle:
            break
        # Extend by one edge to a node above the start that is not yet on the path, keeping
        # only paths that can still come back (directly at the last extension).
        deg = out_ptr[end + 1] - out_ptr[end]
        rows, offs = _expand(deg)
        nxt = by_src[out_ptr[end[rows]] + offs]
        target = dst[nxt]
        ok = target > start[rows]
        for col in range(paths.shape[1]):
            ok &= target != dst[paths[rows, col]]
        if length + 1 == max_cycle:
            ok &= reaches[target, start[rows]]
        rows, nxt = rows[ok], nxt[ok]
        paths = np.column_stack([paths[rows], nxt])
        start = start[rows]
    cycles = [
        np.pad(c, ((0, 0), (0, max_cycle - c.shape[1])), constant_values=pad)
        for c in found
        if len(c)
    ]
    if not cycles:
        return np.empty((0, max_cycle), dtype=np.int64)
    return np.ascontiguousarray(np.concatenate(cycles).astype(np.int64))


def _expand(counts: IntArray) -> tuple[IntArray, IntArray]:
    """Return (row, offset) pairs enumerating `counts[row]` items per row."""
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    offs = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, counts)
    return rows, offs
