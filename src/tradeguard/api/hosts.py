"""The names the API answers to: a request whose Host header names another is refused.

```python
allowed = allowed_names(config.api)
host_refusal(scope, allowed)  # None, or the one-line reason for a 400
```

A page on another site cannot read the API's answers (no CORS), unless its own name resolves
to the API's address: DNS rebinding points `evil.example` at 127.0.0.1 once the page loaded,
and the browser then sends `Host: evil.example` to this node. Such a request is refused, so
that page reads neither `/api/v1/health` nor the dashboard. Taken: no Host at all (an HTTP/1.0
program; a browser always sends one), any IP address (a rebinding page has a name), the
loopback names `localhost` and `*.localhost` (which resolve to loopback alone), `api.host`
when it is a name, and each name in `api.allowed_hosts`; a port and a final dot are ignored,
and case.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.types import Scope

HOST_KEY = "api.allowed_hosts"
_SHOWN = 80  # characters of a refused Host echoed


def allowed_names(api: Any) -> frozenset[str]:
    """The configured names (`api.allowed_hosts`, and `api.host` when a name), lower case."""
    names = {str(n).lower().rstrip(".") for n in api.allowed_hosts}
    if not _is_ip(api.host):
        names.add(str(api.host).lower().rstrip("."))
    return frozenset(names)


def host_refusal(scope: Scope, allowed: frozenset[str]) -> str | None:
    """Why the request's Host is not one the API answers to, or None when it is."""
    given = {v for k, v in scope["headers"] if k == b"host"}
    if not given:
        return None
    if len(given) > 1:
        return "Host is given twice with different values: send one"
    raw = next(iter(given)).decode("latin-1").strip().lower()
    name = _name(raw)
    if _is_ip(name) or name == "localhost" or name.endswith(".localhost") or name in allowed:
        return None
    shown = ascii(raw[:_SHOWN]) if not raw.isprintable() else repr(raw[:_SHOWN])
    return (
        f"Host {shown} is not a name this API answers to (loopback names, IP addresses and "
        f"{HOST_KEY}); add the name you reach it by to {HOST_KEY}"
    )


def _name(host: str) -> str:
    """`host` without its port and final dot (`[::1]:8000` -> `::1`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
