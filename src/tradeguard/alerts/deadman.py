"""The dead-man ping: call an outside URL every few seconds while healthy; silence means trouble.

Services such as healthchecks.io or Uptime Kuma (push monitors) page the operator when the pings
stop, which covers what no alert from inside can: a crashed process, a hung loop, a dead host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from tradeguard.alerts.channels import guard_secret
from tradeguard.secrets.redact import MASK, redact

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def masked_url(url: str) -> str:
    """Show a URL's scheme and host only: ping URLs carry their token in the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/{MASK}"


def _token_like(url: str) -> list[str]:
    # Long path segments and query values are tokens (a UUID, a push key); short ones are
    # words like "ping" that must stay readable elsewhere in the logs.
    parts = urlsplit(url)
    pieces = parts.path.split("/") + [kv.partition("=")[2] for kv in parts.query.split("&")]
    return [p for p in pieces if len(p) >= 16]


class DeadManPing:
    """Ping `url` every `interval_s` while `healthy()` holds; a failure is logged, never raised."""

    def __init__(
        self,
        url: str,
        interval_s: float,
        healthy: Callable[[], bool],
        *,
        method: str = "GET",
        timeout_s: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = url
        self.interval_s = interval_s
        self.healthy = healthy
        self.method = method
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.where = masked_url(url)
        self.counters = {"sent": 0, "failed": 0, "skipped": 0}
        guard_secret(url)
        for piece in _token_like(url):
            guard_secret(piece)  # the token alone, as a log line may quote it

    async def run(self) -> None:
        """Ping until cancelled: at once, then every `interval_s`."""
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=True) as client:
            while True:
                await self.beat(client)
                await self._sleep(self.interval_s)

    async def beat(self, client: httpx.AsyncClient) -> bool:
        """Send one ping if healthy; return whether one was delivered."""
        try:
            if not self.healthy():
                self.counters["skipped"] += 1
                return False
            response = await client.request(self.method, self.url)
            if response.status_code >= 400:
                raise httpx.HTTPStatusError(
                    f"HTTP {response.status_code}", request=response.request, response=response
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.counters["failed"] += 1
            reason = redact(str(exc).replace(self.url, self.where)) or type(exc).__name__
            log.warning("dead-man ping to %s failed: %s", self.where, reason)
            return False
        self.counters["sent"] += 1
        return True
