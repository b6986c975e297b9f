"""Quotes from a pool's reserves: `Sync` events of each new block, and a periodic re-read.

```python
async for quote in reserve_quotes(venue, ["WETH/USD"]):
    market.on_quote(quote)      # mid = the reserves' ratio; bid/ask = mid less/plus the fee
```

A pool nobody trades emits no event, yet its price stays true: the reserves are read again
every `quote_refresh_s`, so the risk engine's staleness check sees a live quote.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.model.market import Quote

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

FEE = Decimal("0.003")
# the size shown at the bid and ask: the base amount that moves the price by about 1 %
DEPTH_FRACTION = Decimal("0.005")


def reserve_quote(venue: UniswapV2Venue, symbol: str) -> Quote:
    """Return the pool's quote from the cached reserves (spread = the 0.3 % fee either side)."""
    base = venue.settings.token(symbol.partition("/")[0])
    mid = venue.mid(symbol)
    depth = Decimal(venue.reserves[symbol].base).scaleb(-base.decimals) * DEPTH_FRACTION
    return Quote(symbol, venue.now_ms(), mid * (1 - FEE), depth, mid * (1 + FEE), depth)


async def reserve_quotes(venue: UniswapV2Venue, symbols: list[str]) -> AsyncIterator[Quote]:
    """Yield a quote per symbol now, then whenever its reserves change or are re-read."""
    s = venue.settings
    loop = asyncio.get_running_loop()
    for symbol in symbols:
        await venue.refresh(symbol)
        yield reserve_quote(venue, symbol)
    last_block = await venue.chain.block_number()
    next_refresh = loop.time() + s.quote_refresh_s
    pairs = [venue.pairs[symbol][0] for symbol in symbols]
    while True:
        await asyncio.sleep(s.quote_poll_s)
        changed: set[str] = set()
        head = await venue.chain.block_number()
        if head > last_block:
            for pair, r0, r1, block in await venue.chain.sync_logs(pairs, last_block + 1, head):
                synced = venue.apply_sync(pair, r0, r1, block)
                if synced is not None:
                    changed.add(synced)
            last_block = head
        if loop.time() >= next_refresh:
            for symbol in symbols:
                await venue.refresh(symbol)
                await venue.observe(symbol)  # a reading for the swap's time-weighted check
            changed.update(symbols)
            next_refresh = loop.time() + s.quote_refresh_s
        for symbol in symbols:
            if symbol in changed:
                yield reserve_quote(venue, symbol)
