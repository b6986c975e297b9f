"""Another venue's mark of a pool's market, the second reference a swap is held to.

A pool pushed slowly, for longer than `twap_window_s`, becomes its own time-weighted reference.
With `reference_marks` (pool symbol -> venue and symbol, e.g. `"WETH/USD" = "binance:ETH/USDT"`)
the pool guard also reads that venue's quote before each swap and refuses the swap
(`POOL_PRICE`) when the pool is more than `max_pool_deviation_pct` off its mark, or when the venue
gives none. The mark is the quote's mid as the node's mark guard sees it (a mid held as a suspect
print gives way to the last accepted mark); a quote older than the risk engine's `stale_data_s`,
or whose spread is wider than `max_pool_deviation_pct`, is no mark and refuses the swap too.

```python
guard.mark_of = venue_marks(node.venues, node.risk.mark_guard, 60, node.clock)  # by the node
await guard.check("WETH/USD", ...)         # POOL_PRICE past the limit of binance's ETH/USDT
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.clock import Clock
from tradeguard.model.errors import DefinitiveVenueError

if TYPE_CHECKING:
    from tradeguard.model.price_guard import MarkGuard
    from tradeguard.venues.base import Venue

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Reading:
    """A reference venue's quote and the mark taken from it."""

    bid: Decimal
    ask: Decimal
    age_s: Decimal  # how old the quote's stamp is when read
    max_age_s: int  # the oldest a quote may be (risk.stale_data_s)
    mark: Decimal  # the mid, or the last accepted mark when the mark guard holds the mid
    held: bool = False  # the mid is held by the mark guard (a suspect print)
    jump_setting: str = "risk.max_mark_jump_pct"

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


MarkOf = Callable[[str, str], Awaitable[Reading | None]]


def venue_marks(
    venues: Mapping[str, Venue],
    guard: MarkGuard | None = None,
    max_age_s: int = 60,
    clock: Clock | None = None,
) -> MarkOf:
    """Read a venue's mark of a symbol from its quote read now (None: none given); `guard` (the
    node's mark guard) replaces a mid it would hold by the last accepted mark, `max_age_s` (the
    risk engine's `stale_data_s`) is how old the quote may be by `clock`."""
    now_ms = (clock or Clock()).now_ms

    async def mark_of(venue: str, symbol: str) -> Reading | None:
        held = venues.get(venue)
        if held is None:
            return None
        quote = await held.fetch_reference_quote(symbol)
        if quote is None or quote.bid <= 0 or quote.ask < quote.bid:
            return None
        mid = quote.mid
        mark = guard.mark_for(venue, symbol, mid) if guard is not None else mid
        age = Decimal(max(now_ms() - quote.ts, 0)) / 1000
        setting = guard.setting if guard is not None else "risk.max_mark_jump_pct"
        return Reading(quote.bid, quote.ask, age, max_age_s, mark, mark != mid, setting)

    return mark_of


async def check_mark(
    venue: str,
    symbol: str,
    spot: Decimal,
    where: tuple[str, str],
    mark_of: MarkOf | None,
    max_deviation_pct: Decimal,
) -> None:
    """Refuse (`POOL_PRICE`) a pool price `spot` more than `max_deviation_pct` off the mark of
    `where` (venue, symbol), or when no usable mark can be read there."""
    ref_venue, ref_symbol = where
    quote = symbol.partition("/")[2]
    ref_quote = ref_symbol.partition("/")[2] or quote
    reading = await _read(venue, symbol, where, mark_of)
    mark = _usable(venue, symbol, where, reading, max_deviation_pct)
    off = abs(spot - mark) / mark * _HUNDRED
    if off > max_deviation_pct:
        held = ""
        if reading.held:
            held = (
                f"; its quote's mid {reading.mid:.6f} {ref_quote} held as a suspect print "
                f"(past {reading.jump_setting} of that mark)"
            )
        raise DefinitiveVenueError(
            venue,
            f"swap refused: the {symbol} pool's price {spot:.6f} {quote} is {off:.2f} % off "
            f"the {ref_symbol} mark of venue {ref_venue}, {mark:.6f} {ref_quote}{held} "
            f"(venues.dex.reference_marks); the limit is venues.dex.max_pool_deviation_pct="
            f"{max_deviation_pct:f} (the pool may have been pushed, slowly or not)",
            "POOL_PRICE",
        )


async def _read(venue: str, symbol: str, where: tuple[str, str], mark_of: MarkOf | None) -> Reading:
    """The reading of `where`'s mark; `POOL_PRICE` when none can be read."""
    ref_venue, ref_symbol = where
    reading: Reading | None = None
    why = "it answered none"
    if mark_of is None:
        why = "no venue is tied to the pool check (not run by a node)"
    else:
        try:
            reading = await mark_of(ref_venue, ref_symbol)
        except Exception as exc:  # a venue down, a symbol it does not list
            why = f"reading it failed: {type(exc).__name__}: {str(exc)[:200]}"
    if reading is None or reading.mark <= 0:
        raise DefinitiveVenueError(
            venue,
            f"swap refused: no {ref_symbol} mark from venue {ref_venue} to check the {symbol} "
            f"pool's price against ({why}); it is named in venues.dex.reference_marks",
            "POOL_PRICE",
        )
    return reading


def _usable(
    venue: str, symbol: str, where: tuple[str, str], r: Reading, max_deviation_pct: Decimal
) -> Decimal:
    """`r`'s mark; `POOL_PRICE` when its quote is too old or too wide to be a reference."""
    ref_venue, ref_symbol = where
    ref_quote = ref_symbol.partition("/")[2]
    if r.age_s > r.max_age_s:
        raise DefinitiveVenueError(
            venue,
            f"swap refused: the {ref_symbol} mark of venue {ref_venue} is {r.age_s:.0f} s old, "
            f"older than risk.stale_data_s={r.max_age_s}: no reference to check the {symbol} "
            "pool's price against (venues.dex.reference_marks)",
            "POOL_PRICE",
        )
    spread = (r.ask - r.bid) / r.mid * _HUNDRED
    if spread > max_deviation_pct:
        raise DefinitiveVenueError(
            venue,
            f"swap refused: the {ref_symbol} quote of venue {ref_venue} (bid {r.bid:.6f} "
            f"{ref_quote}, ask {r.ask:.6f} {ref_quote}): its spread of {spread:.2f} % is wider "
            f"than venues.dex.max_pool_deviation_pct={max_deviation_pct:f}: its mid is no "
            f"reference for the {symbol} pool's price (venues.dex.reference_marks)",
            "POOL_PRICE",
        )
    return r.mark
