"""Who is on the other end: the peer address, or the forwarded one behind a trusted proxy.

```python
proxies = parse_networks(["10.0.0.0/8"])
client_address(scope, proxies)   # X-Forwarded-For is read only when the peer is in `proxies`
```
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Parse addresses and CIDRs (already validated by the config) into networks."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _trusted(host: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in proxies)


def _forwarded_for(scope: Scope) -> list[str]:
    out: list[str] = []
    for key, value in scope.get("headers", ()):
        if key == b"x-forwarded-for":
            out.extend(part.strip() for part in value.decode("latin-1").split(","))
    return out


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """Return the client's address for `scope` (an HTTP or WebSocket connection).

    X-Forwarded-For counts only when the peer is a trusted proxy; it is then read from the
    right, skipping trusted proxies, so a client cannot name itself by prepending addresses.
    """
    peer = scope["client"][0] if scope.get("client") else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = _forwarded_for(scope)
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header names nobody; the proxy itself is accountable
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
