"""The dead-man switch: while orders rest, a heartbeat every `heartbeat_s`; if this process
dies, the CLOB cancels them after 10 s."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError

log = logging.getLogger("tradeguard.venues.polymarket.venue")  # told as the venue's


async def beat(venue: Any) -> None:
    """Post a heartbeat every `venue.heartbeat_s`, warning of each one refused, until cancelled."""
    while True:
        try:
            await venue._private("heartbeat", "POST", "/v1/heartbeats", {"heartbeat_id": ""})
        except (AmbiguousVenueError, DefinitiveVenueError) as exc:
            log.warning("%s: heartbeat failed: %s", venue.name, exc)
        await asyncio.sleep(venue.heartbeat_s)
