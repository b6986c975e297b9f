"""One read of a venue for an operator's clearing command, refused in one line when it fails.

```python
free = await read_venue(node, "binance", "the venue's balances", Refused, read_balances)
```

The venue is connected, `read` runs with reconciliation's call timeout, and the venue is closed
again whatever happened. A timeout, a network error or a venue error becomes `refused` with the
first line of the cause (cut to `model.text.SNIPPET` characters) and the timeout in force; the
record it guards is left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from tradeguard.model.errors import TradeguardError
from tradeguard.model.text import one_line

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode
    from tradeguard.venues.base import Venue

T = TypeVar("T")


async def read_venue(
    node: TradingNode,
    venue: str,
    what: str,
    refused: Callable[[str], Exception],
    read: Callable[[Venue, float], Awaitable[T]],
) -> T:
    """`read(venue, timeout)` on a connected `venue`; `refused` names `what` could not be read."""
    v = node.venues[venue]
    timeout = node.config.reconcile.call_timeout_s
    try:
        await asyncio.wait_for(v.connect(), timeout)
        return await read(v, timeout)
    except (TimeoutError, OSError, TradeguardError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = one_line(text)  # a venue's error text, however long, cut
        raise refused(
            f"{venue}: could not read {what} ({text}, reconcile.call_timeout_s = {timeout}); "
            "the record is left as it is"
        ) from None
    finally:
        with contextlib.suppress(TimeoutError, OSError, TradeguardError):
            await asyncio.wait_for(v.close(), timeout)
