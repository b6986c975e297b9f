"""Another venue's mark of a pool's market, the second reference a swap is held to.

A pool pushed slowly, for longer than `twap_window_s`, becomes its own time-weighted reference.
With `reference_marks` (pool symbol -> venue and symbol, e.g. `"WETH/USD" = "binance:ETH/USDT"`)
the pool guard also reads that venue's quote before each swap and refuses the swap
(`POOL_PRICE`) when the pool is more than `max_pool_deviation_pct` off its mid, or when the venue
gives none.

```python
guard.mark_of = venue_marks(node.venues)   # the node ties it once its venues are built
await guard.check("WETH/USD", ...)         # POOL_PRICE past the limit of binance's ETH/USDT
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.errors import DefinitiveVenueError

if TYPE_CHECKING:
    from tradeguard.venues.base import Venue

MarkOf = Callable[[str, str], Awaitable[Decimal | None]]


def venue_marks(venues: Mapping[str, Venue]) -> MarkOf:
    """Read a venue's mark of a symbol: the mid of its quote read now (None: none given)."""

    async def mark_of(venue: str, symbol: str) -> Decimal | None:
        held = venues.get(venue)
        if held is None:
            return None
        quote = await held.fetch_reference_quote(symbol)
        if quote is None or quote.bid <= 0 or quote.ask < quote.bid:
            return None
        return (quote.bid + quote.ask) / 2

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
    `where` (venue, symbol), or when no mark can be read there."""
    ref_venue, ref_symbol = where
    quote = symbol.partition("/")[2]
    mark: Decimal | None = None
    why = "it answered none"
    if mark_of is None:
        why = "no venue is tied to the pool check (not run by a node)"
    else:
        try:
            mark = await mark_of(ref_venue, ref_symbol)
        except Exception as exc:  # a venue down, a symbol it does not list
            why = f"reading it failed: {type(exc).__name__}: {str(exc)[:200]}"
    if mark is None or mark <= 0:
        raise DefinitiveVenueError(
            venue,
            f"swap refused: no {ref_symbol} mark from venue {ref_venue} to check the {symbol} "
            f"pool's price against ({why}); it is named in venues.dex.reference_marks",
            "POOL_PRICE",
        )
    off = abs(spot - mark) / mark * 100
    if off > max_deviation_pct:
        raise DefinitiveVenueError(
            venue,
            f"swap refused: the {symbol} pool's price {spot:.6f} {quote} is {off:.2f} % off "
            f"the {ref_symbol} mark of venue {ref_venue}, {mark:.6f} {quote} "
            f"(venues.dex.reference_marks); the limit is venues.dex.max_pool_deviation_pct="
            f"{max_deviation_pct:f} (the pool may have been pushed, slowly or not)",
            "POOL_PRICE",
        )
