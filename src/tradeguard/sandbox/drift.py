"""Arbitrage drift: a seeded background task that opens triangle opportunities and closes them.

```python
ex = SandboxExchange(SandboxConfig(universe_markets=150, arb_drift_every_ms=500, seed=7))
await ex.start()          # the drift starts with the server; ex.drift.moves counts what it did
```

Every `every_ms` it picks a triangle of listed markets (three markets over three assets, e.g.
A001USDT, A001BTC, BTCUSDT) and one way round it, then shifts the house book of one of the three
markets by whole ticks so that going round pays `edge_pct` beyond the three taker fees at the top
of the books. The move stays for `hold_ms`, or until a client trades the moved top level away,
and then the house book is put back. Moves go through `set_book`, so clients see them as any
book change: REST depth and bookTicker, and the depth, bookTicker and ticker streams.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from tradeguard.model.errors import ConfigError
from tradeguard.model.money import ZERO
from tradeguard.sandbox.matching import BUY, HOUSE_ACCOUNT, MarketSpec

if TYPE_CHECKING:
    from tradeguard.sandbox.server import SandboxExchange

log = logging.getLogger(__name__)

ONE = Decimal(1)
HUNDRED = Decimal(100)
# Markets wider than this (ask - bid over bid) are left alone: a move there would be huge.
MAX_SPREAD = Decimal("0.02")
_PICK_ATTEMPTS = 20
_POLL_S = 0.005

Levels = list[tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class Leg:
    """One hop of a way round a triangle: `symbol` bought (at the ask) or sold (at the bid)."""

    symbol: str
    buy: bool


@dataclass(slots=True)
class Move:
    """A dislocated market: the house book before and after, and what the move offers."""

    symbol: str
    path: tuple[Leg, ...]
    before: tuple[Levels, Levels]
    after: tuple[Levels, Levels]
    profit_pct: Decimal  # going round at the moved top of book, after taker fees
    top: tuple[Decimal, Decimal] = (ZERO, ZERO)  # the moved best level clients may take


@dataclass(slots=True)
class DriftStats:
    """What the drift has done so far."""

    moves: int = 0
    traded_away: int = 0
    expired: int = 0
    skipped: int = 0
    history: list[Move] = field(default_factory=list)


def find_triangles(markets: Mapping[str, MarketSpec]) -> list[tuple[str, str, str]]:
    """Return every set of three markets that joins three assets in a loop, sorted."""
    by_pair: dict[frozenset[str], str] = {}
    neighbours: dict[str, set[str]] = {}
    for symbol, spec in markets.items():
        if spec.base == spec.quote:
            continue
        by_pair.setdefault(frozenset((spec.base, spec.quote)), symbol)
        neighbours.setdefault(spec.base, set()).add(spec.quote)
        neighbours.setdefault(spec.quote, set()).add(spec.base)
    found: set[tuple[str, str, str]] = set()
    for pair, symbol in by_pair.items():
        a, b = sorted(pair)
        for c in neighbours[a] & neighbours[b]:
            trio = sorted((symbol, by_pair[frozenset((a, c))], by_pair[frozenset((b, c))]))
            found.add((trio[0], trio[1], trio[2]))
    return sorted(found)


def ways_round(
    markets: Mapping[str, MarketSpec], triangle: tuple[str, str, str]
) -> list[tuple[Leg, ...]]:
    """Return the two directed cycles through a triangle's markets, as legs."""
    by_pair = {frozenset((markets[s].base, markets[s].quote)): markets[s] for s in triangle}
    a, b, c = sorted({asset for pair in by_pair for asset in pair})
    out = []
    for order in ((a, b, c), (a, c, b)):
        legs = []
        for x, y in zip(order, (*order[1:], order[0]), strict=True):
            spec = by_pair[frozenset((x, y))]
            legs.append(Leg(spec.symbol, buy=spec.base == y))
        out.append(tuple(legs))
    return out


def _ceil(value: Decimal, tick: Decimal) -> Decimal:
    return (value / tick).to_integral_value(ROUND_CEILING) * tick


def _floor(value: Decimal, tick: Decimal) -> Decimal:
    return (value / tick).to_integral_value(ROUND_FLOOR) * tick


class ArbDrift:
    """Open one priced-in triangle opportunity at a time on a sandbox exchange, then close it."""

    def __init__(
        self,
        ex: SandboxExchange,
        *,
        every_ms: int,
        hold_ms: int,
        edge_pct: Decimal,
        seed: int = 0,
    ) -> None:
        self.ex = ex
        self.every_ms = every_ms
        self.hold_ms = hold_ms
        self.edge = edge_pct / HUNDRED
        self.rng = random.Random(seed)
        self.stats = DriftStats()
        self.current: Move | None = None
        self.triangles = find_triangles(ex.engine.markets)
        if not self.triangles:
            raise ConfigError(
                f"sandbox.arb_drift_every_ms={every_ms} but the {len(ex.engine.markets)} listed "
                "markets form no triangle; set sandbox.universe_markets (e.g. 150) or list "
                "markets that close a loop (e.g. ETHBTC, ETHUSDT, BTCUSDT)"
            )

    async def run(self) -> None:
        """Open, hold and close opportunities until cancelled; the last move is always undone."""
        try:
            while True:
                await asyncio.sleep(self.every_ms / 1000)
                move = self.open_one()
                if move is None:
                    continue
                await self.hold(move)
                self.close()
        finally:
            self.close()

    def open_one(self) -> Move | None:
        """Move one market of a random triangle so that a way round pays; None if none could."""
        engine = self.ex.engine
        for _ in range(_PICK_ATTEMPTS):
            triangle = self.rng.choice(self.triangles)
            path = self.rng.choice(ways_round(engine.markets, triangle))
            leg = self.rng.choice(path)
            move = self._plan(path, leg)
            if move is not None:
                self.ex.set_book(move.symbol, *move.after)
                self.current = move
                self.stats.moves += 1
                self.stats.history.append(move)
                del self.stats.history[:-100]
                log.info(
                    "drift: %s moved, %s pays %.3f%% after fees",
                    move.symbol,
                    " -> ".join(f"{'buy' if x.buy else 'sell'} {x.symbol}" for x in path),
                    move.profit_pct,
                )
                return move
        self.stats.skipped += 1
        return None

    def close(self) -> None:
        """Put the moved house book back, if one is moved."""
        move, self.current = self.current, None
        if move is not None:
            self.ex.set_book(move.symbol, *move.before)

    async def hold(self, move: Move) -> bool:
        """Wait `hold_ms`, or less if a client trades the moved level; True when it was traded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hold_ms / 1000
        while loop.time() < deadline:
            await asyncio.sleep(min(_POLL_S, max(deadline - loop.time(), 0)))
            if self._taken(move):
                self.stats.traded_away += 1
                return True
        self.stats.expired += 1
        return False

    def _taken(self, move: Move) -> bool:
        bid, ask = self.ex.engine.best(move.symbol)
        leg = next(x for x in move.path if x.symbol == move.symbol)
        now = ask if leg.buy else bid
        return now is None or now[0] != move.top[0] or now[1] < move.top[1]

    # planning ----------------------------------------------------------------------------------
    def _rate(self, leg: Leg) -> Decimal | None:
        """What one unit in becomes after this leg at the top of book and the taker fee."""
        spec = self.ex.engine.markets[leg.symbol]
        bid, ask = self.ex.engine.best(leg.symbol)
        if bid is None or ask is None or bid[0] <= 0 or (ask[0] - bid[0]) / bid[0] > MAX_SPREAD:
            return None
        keep = ONE - spec.taker_fee
        return keep / ask[0] if leg.buy else bid[0] * keep

    def _plan(self, path: tuple[Leg, ...], leg: Leg) -> Move | None:
        others = ONE
        for x in path:
            if x is leg:
                continue
            rate = self._rate(x)
            if rate is None:
                return None
            others *= rate
        if self._rate(leg) is None:
            return None
        engine = self.ex.engine
        spec = engine.markets[leg.symbol]
        bid, ask = engine.best(leg.symbol)
        assert bid is not None and ask is not None
        keep = ONE - spec.taker_fee
        want = (ONE + self.edge) / others  # the rate this leg must give
        if leg.buy:
            new_top = _floor(keep / want, spec.tick)
            shift = new_top - ask[0]
        else:
            new_top = _ceil(want / keep, spec.tick)
            shift = new_top - bid[0]
        if (shift >= 0 if leg.buy else shift <= 0) or new_top <= 0:
            return None  # it pays already, or no price can make it pay
        before = self._house_book(leg.symbol)
        after_bids = [(p + shift, q) for p, q in before[0] if p + shift > 0]
        after_asks = [(p + shift, q) for p, q in before[1] if p + shift > 0]
        side = after_asks if leg.buy else after_bids
        if not side or side[0][0] != new_top:
            return None  # the top of book was not the house's: leave this market alone
        rate = keep / new_top if leg.buy else new_top * keep
        profit = (others * rate - ONE) * HUNDRED
        return Move(leg.symbol, path, before, (after_bids, after_asks), profit, side[0])

    def _house_book(self, symbol: str) -> tuple[Levels, Levels]:
        """Return the house's ladder on `symbol` (bids high to low, asks low to high)."""
        # The ladder the house means to quote, not what clients left of it: putting a move back
        # must not make a drained book the ladder the refill keeps.
        ladder = self.ex.refill.ladder(symbol)
        if ladder is not None:
            return ladder
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        for o in self.ex.engine.open_orders(HOUSE_ACCOUNT, symbol):
            levels = bids if o.side == BUY else asks
            levels[o.price] = levels.get(o.price, ZERO) + o.remaining
        return (
            sorted(bids.items(), reverse=True),
            sorted(asks.items()),
        )
