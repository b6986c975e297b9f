"""Points where crash tests stop a swap so the process can be killed there.

Each variable names a file: when set, the venue writes the swap's hash to it on reaching that
point and then waits for ever. Unset (always, outside tests), nothing happens.

| variable | the swap is |
|---|---|
| TRADEGUARD_DEX_PAUSE_BEFORE_BROADCAST | signed and journaled, not yet broadcast |
| TRADEGUARD_DEX_PAUSE_AFTER_BROADCAST | broadcast, its receipt not yet read |
| TRADEGUARD_DEX_PAUSE_AFTER_RECEIPT | mined and its receipt read, the fill not yet booked |
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

BEFORE_BROADCAST = "TRADEGUARD_DEX_PAUSE_BEFORE_BROADCAST"
AFTER_BROADCAST = "TRADEGUARD_DEX_PAUSE_AFTER_BROADCAST"
AFTER_RECEIPT = "TRADEGUARD_DEX_PAUSE_AFTER_RECEIPT"


async def pause_at(variable: str, tx_hash: str) -> None:
    """Write `tx_hash` to the file `variable` names and wait for ever; no-op when unset."""
    path = os.environ.get(variable)
    if not path:
        return
    Path(path).write_text(tx_hash, encoding="utf-8")
    await asyncio.Event().wait()
