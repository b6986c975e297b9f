"""Score mapped pairs on every book change: the best size, its edge after exact fees, ROI per day.

```python
scanner = PairScanner([scan_pair(pair, pm_venue, k_venue, pm_fees, k_fees)])
changed = scanner.update_book("kalshi", "KXFED:NO/USD", asks)   # rescoring only those pairs
opp = scanner.best(now_ms, min_roi_pct=Decimal(1))               # Decimal at the boundary
```

For each pair and both directions (YES on Polymarket + NO on Kalshi, and the reverse, with YES
and NO swapped on Kalshi for an inverted pair) the scanner walks both ask books together: while
the next contracts of both books cost less than $1 together, each book boundary is a candidate
size, and the candidate with the most profit after both venues' exact fees at that size wins
(`1 - (a + b) - fees` per contract). Work is integers only (micro-dollar prices, hundredths of
contracts, per-level fee factors precomputed when a book arrives); an update rescores only the
pairs that hold the book.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.money import ZERO
from tradeguard.strategies.cross_venue.fees import MICRO, FeeModel, fee_micro, piece_micro
from tradeguard.strategies.cross_venue.market_map import MappedPair

DAY_MS = 86_400_000
HUNDRED = Decimal(100)
_E8 = 100_000_000  # 1e-8 dollars: micro-dollar price x hundredth of a contract


@dataclass(frozen=True, slots=True)
class PairLeg:
    """One order of a direction: buy `symbol` on `venue`, paying that venue's taker fee."""

    venue: str
    symbol: str
    fees: FeeModel


@dataclass(frozen=True, slots=True)
class ScanPair:
    """A mapped pair as the scanner sees it: two directions of two legs each."""

    pair_id: str
    event: str
    settles_at_ms: int
    directions: tuple[tuple[PairLeg, PairLeg], tuple[PairLeg, PairLeg]]
    min_contracts: int = 1
    max_contracts: int = 100_000
    resolves_at_ms: int = 1 << 62  # the earlier side's resolution time: no entry from then on


def scan_pair(
    pair: MappedPair,
    pm_venue: str,
    kalshi_venue: str,
    pm_fees: FeeModel,
    kalshi_fees: FeeModel,
    pm_quote: str = "PUSD",
    min_contracts: int = 1,
) -> ScanPair:
    """Return the two directions of a mapped pair: canonical YES is Polymarket's YES."""
    pm = pair.polymarket.market
    k = pair.kalshi.market
    k_yes, k_no = (f"{k}:YES/USD", f"{k}:NO/USD")
    if pair.orientation == "inverted":
        k_yes, k_no = k_no, k_yes
    pm_yes = PairLeg(pm_venue, f"{pm}:YES/{pm_quote}", pm_fees)
    pm_no = PairLeg(pm_venue, f"{pm}:NO/{pm_quote}", pm_fees)
    k_yes_leg = PairLeg(kalshi_venue, k_yes, kalshi_fees)
    k_no_leg = PairLeg(kalshi_venue, k_no, kalshi_fees)
    return ScanPair(
        pair.id,
        pair.event,
        pair.settles_at_ms,
        ((pm_yes, k_no_leg), (k_yes_leg, pm_no)),
        min_contracts,
        resolves_at_ms=min(pair.polymarket.resolves_at_ms, pair.kalshi.resolves_at_ms),
    )


@dataclass(frozen=True, slots=True)
class LegPlan:
    """One leg of an opportunity: what to buy, how many, the worst price needed, its fee."""

    venue: str
    symbol: str
    contracts: Decimal
    limit_price: Decimal  # the worst level the size reaches
    cost: Decimal  # contracts x prices walked, fee excluded
    fee: Decimal
    depth_at_limit: Decimal  # contracts offered up to the limit price (thinness)


@dataclass(frozen=True, slots=True)
class PairOpportunity:
    """The best size of one direction of one pair and what it earns."""

    pair_id: str
    event: str
    direction: int  # 0: YES on Polymarket + NO on Kalshi; 1: YES on Kalshi + NO on Polymarket
    contracts: Decimal
    legs: tuple[LegPlan, LegPlan]
    profit: Decimal  # dollars at `contracts`, after both fees
    settles_at_ms: int
    days_locked: Decimal

    @property
    def capital(self) -> Decimal:
        """Return the cash both legs lock until settlement (prices and fees)."""
        return sum((leg.cost + leg.fee for leg in self.legs), ZERO)

    @property
    def edge(self) -> Decimal:
        """Return the profit per contract pair (1 - a - b - fees per contract)."""
        return self.profit / self.contracts if self.contracts else ZERO

    @property
    def roi_pct(self) -> Decimal:
        """Return profit over capital, in percent."""
        cap = self.capital
        return self.profit / cap * HUNDRED if cap else ZERO

    @property
    def roi_per_day_pct(self) -> Decimal:
        """Return ROI spread over the days until the later settlement (at least one day)."""
        return self.roi_pct / self.days_locked

    def signal(self) -> dict[str, Any]:
        """What each leg's order says of its pair: enough to book the pair from the journal."""
        return {
            "pair_id": self.pair_id, "event": self.event, "direction": self.direction,
            "settles_at_ms": self.settles_at_ms,
            "pair_legs": [[leg.venue, leg.symbol] for leg in self.legs],
        }  # fmt: skip


class _Book:
    """One ask book in integers, with prefix sums for any size in O(log levels)."""

    __slots__ = ("cum_cost", "cum_h", "cum_r", "cum_w", "k18", "prices")

    def __init__(self, asks: Sequence[tuple[Decimal, Decimal]], fees: FeeModel) -> None:
        self.prices: list[int] = []
        self.k18: list[int] = []
        self.cum_h: list[int] = []
        self.cum_cost: list[int] = []
        self.cum_w: list[int] = []
        self.cum_r: list[int] = []
        h = cost = w = r = 0
        for price, size in asks:
            hundredths = int(size * 100)
            p = int(price * MICRO)
            if hundredths <= 0 or not 0 < p < MICRO:
                continue
            k = _k18(fees, p)
            h += hundredths
            cost += p * hundredths
            w += hundredths * k
            r += piece_micro(hundredths, k)
            self.prices.append(p)
            self.k18.append(k)
            self.cum_h.append(h)
            self.cum_cost.append(cost)
            self.cum_w.append(w)
            self.cum_r.append(r)

    def take(self, hundredths: int, kalshi: bool) -> tuple[int, int, int]:
        """Return (cost in 1e-8 $, fee in micro-$, index of the last level) for this size."""
        i = bisect_left(self.cum_h, hundredths)
        before = self.cum_h[i - 1] if i else 0
        part = hundredths - before
        k = self.k18[i]
        cost = (self.cum_cost[i - 1] if i else 0) + self.prices[i] * part
        w = (self.cum_w[i - 1] if i else 0) + part * k
        r = (self.cum_r[i - 1] if i else 0) + piece_micro(part, k)
        return cost, fee_micro(kalshi, w, r), i


_K18: dict[tuple[FeeModel, int], int] = {}


def _k18(fees: FeeModel, price_micro: int) -> int:
    key = (fees, price_micro)
    got = _K18.get(key)
    if got is None:
        got = _K18[key] = fees.k18(price_micro)
    return got


# (profit in 1e-8 $, direction, contracts, capital in 1e-8 $)
_Score = tuple[int, int, int, int]


class PairScanner:
    """Keep every mapped pair's best direction and size current as books change."""

    def __init__(self, pairs: Sequence[ScanPair]) -> None:
        self.pairs = {p.pair_id: p for p in pairs}
        self._books: dict[tuple[str, str], _Book] = {}
        self._fees: dict[tuple[str, str], FeeModel] = {}
        self._touching: dict[tuple[str, str], list[str]] = {}
        for p in pairs:
            for legs in p.directions:
                for leg in legs:
                    key = (leg.venue, leg.symbol)
                    self._fees[key] = leg.fees
                    self._touching.setdefault(key, []).append(p.pair_id)
        self.scores: dict[str, _Score] = {}  # only pairs with a positive profit
        self.rescored = 0

    def symbols(self, venue: str) -> list[str]:
        """Return the symbols of `venue` whose books the scanner needs."""
        return sorted({s for v, s in self._touching if v == venue})

    def update_book(
        self, venue: str, symbol: str, asks: Sequence[tuple[Decimal, Decimal]]
    ) -> list[str]:
        """Take a new ask book (best first) and rescore the pairs on it; return their ids."""
        key = (venue, symbol)
        touching = self._touching.get(key)
        if touching is None:
            return []
        self._books[key] = _Book(asks, self._fees[key])
        for pair_id in touching:
            self._rescore(self.pairs[pair_id])
        return touching

    def _rescore(self, pair: ScanPair) -> None:
        self.rescored += 1
        best: _Score | None = None
        for d, (a, b) in enumerate(pair.directions):
            got = self._best_size(pair, a, b)
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], d, got[1], got[2])
        if best is None:
            self.scores.pop(pair.pair_id, None)
        else:
            self.scores[pair.pair_id] = best

    def _best_size(self, pair: ScanPair, a: PairLeg, b: PairLeg) -> tuple[int, int, int] | None:
        """Return (profit, contracts, capital) of the most profitable size (1e-8 $), if any."""
        ba = self._books.get((a.venue, a.symbol))
        bb = self._books.get((b.venue, b.symbol))
        if ba is None or bb is None or not ba.prices or not bb.prices:
            return None
        if ba.prices[0] + bb.prices[0] >= MICRO:
            return None  # the cheapest pair already costs $1 or more: the common case, fast
        ka, kb = a.fees.dialect == "kalshi", b.fees.dialect == "kalshi"
        i = j = 0
        best: tuple[int, int, int] | None = None
        cap = pair.max_contracts * 100
        while i < len(ba.prices) and j < len(bb.prices):
            if ba.prices[i] + bb.prices[j] >= MICRO:
                break
            edge_h = min(ba.cum_h[i], bb.cum_h[j], cap)
            n = edge_h // 100
            if n >= pair.min_contracts:
                cost_a, fee_a, _ = ba.take(n * 100, ka)
                cost_b, fee_b, _ = bb.take(n * 100, kb)
                profit = n * _E8 - cost_a - cost_b - (fee_a + fee_b) * 100
                if profit > 0 and (best is None or profit > best[0]):
                    best = (profit, n, n * _E8 - profit)
            if edge_h >= cap:
                break
            if ba.cum_h[i] == edge_h:
                i += 1
            if bb.cum_h[j] == edge_h:
                j += 1
        return best

    def opportunity(self, pair_id: str, now_ms: int) -> PairOpportunity | None:
        """Return the pair's best direction and size in Decimal, or None when none profits."""
        score = self.scores.get(pair_id)
        if score is None:
            return None
        profit8, d, n, _ = score
        pair = self.pairs[pair_id]
        legs = tuple(self._plan(leg, n) for leg in pair.directions[d])
        days = Decimal(max(pair.settles_at_ms - now_ms, DAY_MS)) / DAY_MS
        return PairOpportunity(
            pair_id,
            pair.event,
            d,
            Decimal(n),
            (legs[0], legs[1]),
            Decimal(profit8) / _E8,
            pair.settles_at_ms,
            days,
        )

    def _plan(self, leg: PairLeg, n: int) -> LegPlan:
        book = self._books[(leg.venue, leg.symbol)]
        cost8, fee, i = book.take(n * 100, leg.fees.dialect == "kalshi")
        limit = book.prices[i]
        depth = Decimal(book.cum_h[i]) / 100
        return LegPlan(
            leg.venue,
            leg.symbol,
            Decimal(n),
            Decimal(limit) / MICRO,
            Decimal(cost8) / _E8,
            Decimal(fee) / MICRO,
            depth,
        )

    def best(
        self, now_ms: int, min_roi_pct: Decimal = ZERO, skip: frozenset[str] = frozenset()
    ) -> PairOpportunity | None:
        """Return the profitable opportunity with the best ROI per day at or above the minimum."""
        floor = float(min_roi_pct) / 100
        best_id, best_key = "", 0.0
        for pair_id, (profit8, _, _, capital8) in self.scores.items():
            roi = profit8 / capital8
            if pair_id in skip or roi < floor or now_ms >= self.pairs[pair_id].resolves_at_ms:
                continue  # a market past its resolution time takes no new money
            days = max(self.pairs[pair_id].settles_at_ms - now_ms, DAY_MS) / DAY_MS
            if not best_id or roi / days > best_key:
                best_id, best_key = pair_id, roi / days
        found = self.opportunity(best_id, now_ms) if best_id else None
        if found is not None and found.roi_pct < min_roi_pct:  # float ranking, Decimal verdict
            return None
        return found
