"""Refuse a swap into a pool pushed off its own recent time-weighted price.

A swap is priced from the pool's reserves, which anyone can move with one large trade just
before ours (a sandwich, or a pool left far off the market). Each Uniswap V2 pair keeps
`price0CumulativeLast` / `price1CumulativeLast`: the sum over time of its price, updated at the
first trade of each block with the price held *before* it. Two readings of that sum, `dt`
seconds apart, give the mean price over those seconds, and a trade cannot rewrite the past: a
push made a moment ago weighs in the mean only for that moment.

```python
guard = PoolGuard("dex", chain, window_s=300, max_deviation_pct=Decimal(5))
await guard.observe("WETH/USD", pair, base_first=True, base_dec=18, quote_dec=18)  # at connect
await guard.check("WETH/USD", pair, True, 18, 18)   # before a swap: POOL_PRICE past the limit
```

The reference is the mean since the newest reading at least `window_s` old. The first reading
of a pool brings a second one, of the pool at a block at least `window_s` older, when the node
serves it: a pool pushed before the start is seen as pushed. When it cannot (a chain younger
than the window, a node that keeps no old state), the readings span less than the window for a
while: the seconds they do not span count at the price first read, so the reference is a full
window's mean from the start. A pool pushed right after the start is then refused until the push
has held for about the window, as it would be with the look-back; before, the mean since the
first reading alone followed a push within a minute or two.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.errors import DefinitiveVenueError

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.reference import MarkOf
    from tradeguard.venues.uniswap_v2.rpc import ChainClient

Q112 = 2**112
_MOD256 = 2**256
_MOD32 = 2**32


@dataclass(frozen=True, slots=True)
class Observation:
    """The pair's price sum (quote per base, UQ112.112 times seconds) at a block's time."""

    ts: int
    cumulative: int
    spot: Decimal  # the reserves' mid then, in whole tokens
    scale: Decimal = Decimal(1)  # quote units per base unit -> whole tokens
    reserves: tuple[int, int, int] = (0, 0, 0)  # base and quote units, and the block read at


def current_cumulative(cum_last: int, r_base: int, r_quote: int, ts_last: int, ts: int) -> int:
    """The price sum at `ts`, as the pair would hold it had it traded then (mod 2^256)."""
    elapsed = (ts - ts_last) % _MOD32
    if elapsed and r_base:
        cum_last += (r_quote * Q112 // r_base) * elapsed
    return cum_last % _MOD256


class PoolGuard:
    """Readings of each pool's price sum, and the check a swap passes before it is signed."""

    def __init__(
        self,
        venue: str,
        chain: ChainClient,
        window_s: int,
        max_deviation_pct: Decimal,
        marks: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.venue = venue
        self.chain = chain
        self.window_s = window_s
        self.max_deviation_pct = max_deviation_pct
        self.marks = marks or {}  # pool symbol -> (venue, symbol) whose mark it is held to
        self.mark_of: MarkOf | None = None  # reads them (the node ties it: reference.py)
        self._seen: dict[str, deque[Observation]] = {}

    async def _read(
        self, pair: str, base_first: bool, base_dec: int, quote_dec: int, at: int | None = None
    ) -> Observation:
        cum, r0, r1, ts_last, ts, block = await self.chain.price_state(pair, base_first, at)
        r_base, r_quote = (r0, r1) if base_first else (r1, r0)
        spot = (
            Decimal(r_quote).scaleb(-quote_dec) / Decimal(r_base).scaleb(-base_dec)
            if r_base
            else Decimal(0)
        )
        cumulative = current_cumulative(cum, r_base, r_quote, ts_last, ts)
        scale = Decimal(1).scaleb(base_dec - quote_dec)
        return Observation(ts, cumulative, spot, scale, (r_base, r_quote, block))

    def _keep(self, symbol: str, obs: Observation) -> None:
        """Add `obs`; drop readings older than the newest one at least `window_s` old."""
        seen = self._seen.setdefault(symbol, deque())
        seen.append(obs)
        while len(seen) > 1 and seen[1].ts <= obs.ts - self.window_s:
            seen.popleft()

    async def observe(
        self, symbol: str, pair: str, base_first: bool, base_dec: int, quote_dec: int
    ) -> Observation:
        obs = await self._read(pair, base_first, base_dec, quote_dec)
        if symbol not in self._seen:  # the first reading: the pool as it was a window ago too
            past = await self._past(obs, pair, base_first, base_dec, quote_dec)
            if past is not None:
                self._keep(symbol, past)
        self._keep(symbol, obs)
        return obs

    async def _past(
        self, now: Observation, pair: str, base_first: bool, base_dec: int, quote_dec: int
    ) -> Observation | None:
        """The pool at a block at least `window_s` older than `now`'s, found in a few header
        reads; None when the chain (or the pool) is younger or the node cannot say."""
        at, ts = now.reserves[2], now.ts
        try:
            step = max(1, ts - await self.chain.block_time(at - 1)) if at > 0 else 1
            back = -(-self.window_s // step)
            for _ in range(4):
                if at - back < 0:
                    return None
                if await self.chain.block_time(at - back) <= ts - self.window_s:
                    return await self._read(pair, base_first, base_dec, quote_dec, at - back)
                back *= 2
        except Exception:  # a pruned node, no pool there yet: the first reading alone
            return None
        return None

    def reference(self, symbol: str, now: Observation) -> tuple[Decimal, int, Decimal | None]:
        """The time-weighted price (whole tokens) up to `now`, the seconds the readings span,
        and the first read price when it stands in for the rest of the window (else None)."""
        seen = self._seen.get(symbol)
        if not seen:
            return now.spot, 0, None
        old = [o for o in seen if o.ts <= now.ts - self.window_s]
        then = old[-1] if old else seen[0]
        dt = max(0, now.ts - then.ts)
        mean = then.spot
        if dt > 0:
            mean = Decimal((now.cumulative - then.cumulative) % _MOD256) / Q112 / dt * now.scale
        if old or then.spot <= 0:
            return mean, dt, None
        # no reading a window old: the seconds not spanned count at the price first read
        ref = (then.spot * (self.window_s - dt) + mean * dt) / self.window_s
        return ref, dt, then.spot

    async def check(
        self, symbol: str, pair: str, base_first: bool, base_dec: int, quote_dec: int
    ) -> Observation:
        """Refuse (`POOL_PRICE`) when the pool's price is past `max_deviation_pct` of its
        time-weighted price; the reading is kept for later checks either way."""
        now = await self._read(pair, base_first, base_dec, quote_dec)
        ref, span, first = self.reference(symbol, now)
        self._keep(symbol, now)
        quote = symbol.partition("/")[2]
        if ref <= 0 < now.spot:  # no liquidity all along: no mean to hold a price to
            raise DefinitiveVenueError(
                self.venue,
                f"swap refused: the {symbol} pool's price {now.spot:.6f} {quote} has no mean to "
                "be checked against (it held no liquidity before its latest block); it is "
                f"traded once it has held a price for about venues.dex.twap_window_s="
                f"{self.window_s}",
                "POOL_PRICE",
            )
        off = abs(now.spot - ref) / ref * 100 if ref > 0 else Decimal(0)
        if off > self.max_deviation_pct:
            over = f"its mean over the last {span} s" if span else "its price when first read"
            if first is not None:
                over = (
                    f"its mean over the last {self.window_s} s, {span} s read and "
                    f"{first:.6f} {quote} when first read for the {self.window_s - span} s "
                    f"before (no block twap_window_s={self.window_s} s before the first reading "
                    "could be read: the chain is younger or its node keeps no older state)"
                )
            raise DefinitiveVenueError(
                self.venue,
                f"swap refused: the {symbol} pool's price {now.spot:.6f} {quote} is "
                f"{off:.2f} % off {over}, {ref:.6f} {quote}; the limit is "
                f"venues.dex.max_pool_deviation_pct={self.max_deviation_pct:f} (the pool may "
                "have been pushed just before this swap)",
                "POOL_PRICE",
            )
        if symbol in self.marks:  # and to another venue's mark, when one is configured
            from tradeguard.venues.uniswap_v2.reference import check_mark

            where = self.marks[symbol]
            await check_mark(
                self.venue, symbol, now.spot, where, self.mark_of, self.max_deviation_pct
            )
        return now
