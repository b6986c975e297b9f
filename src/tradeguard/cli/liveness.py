"""What `tradeguard status` says of liveness: the stored heartbeat and the API's health answer."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

_STATUS_STYLE = {"ok": "green", "degraded": "yellow", "down": "red"}


def heartbeat_view(storage: Any, config: Any, now_ms: int | None = None) -> dict[str, Any]:
    """Describe the live loop's last stored heartbeat: its age and whether it is late."""
    from tradeguard.node.stats import HEARTBEAT_KEY

    beat = storage.kv_get(HEARTBEAT_KEY)
    # The stored beat is written at each checkpoint: allow two of them before calling it late.
    limit = max(config.health.heartbeat_max_age_s, 2 * config.node.checkpoint_interval_s)
    if not isinstance(beat, dict):
        return {"state": "none", "age_s": None, "limit_s": limit, "pid": None}
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age = max(0.0, (now - int(beat.get("wall_ms") or beat.get("ts") or 0)) / 1000)
    if beat.get("stopped"):  # written by a live loop that ended (Ctrl-C, SIGTERM, --duration)
        state = "stopped"
    else:
        state = "late" if age > limit else "beating"
    return {"state": state, "age_s": round(age, 1), "limit_s": limit, "pid": beat.get("pid")}


def api_base(config: Any, given: str | None) -> str | None:
    """Return the API to ask: `--api`, else the config's own when the API is enabled."""
    if given:
        return given.rstrip("/")
    api = config.api
    if not api.enabled:
        return None
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
    scheme = "https" if api.tls_certfile else "http"
    return f"{scheme}://{host}:{api.port}"


def fetch_health(base: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """GET `base`/api/v1/health; on failure return {"status": "unreachable", "error": ...}."""
    import httpx

    try:
        response = httpx.get(f"{base}/api/v1/health", timeout=timeout_s)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"status": "unreachable", "error": f"{type(exc).__name__}: {exc}", "api": base}
    if not isinstance(body, dict) or "status" not in body:
        return {"status": "unreachable", "error": f"HTTP {response.status_code}", "api": base}
    return {**body, "api": base}


def print_liveness(
    console: Console, heartbeat: dict[str, Any], health: dict[str, Any] | None
) -> None:
    """Print the heartbeat line and, when asked, the API's health with what is not ok."""
    if heartbeat["state"] == "none":
        console.print("Heartbeat: none stored (the node has not run live on this database)")
    else:
        state = heartbeat["state"]
        style = {"late": "red", "stopped": "yellow"}.get(state, "green")
        note = {"late": " (stopped or hung)", "stopped": " (the live loop ended)"}.get(state, "")
        console.print(
            f"Heartbeat: [{style}]{heartbeat['state']}[/], {heartbeat['age_s']} s ago "
            f"(limit {heartbeat['limit_s']} s, pid {heartbeat['pid']}){note}"
        )
    if health is None:
        return
    status = str(health.get("status"))
    if status == "unreachable":
        console.print(f"Health: [red]API not reachable[/] at {health['api']}: {health['error']}")
        return
    console.print(f"Health: [{_STATUS_STYLE.get(status, 'white')}]{status}[/] ({health['api']})")
    for name, check in (health.get("checks") or {}).items():
        if isinstance(check, dict) and check.get("status") != "ok":
            detail = {k: v for k, v in check.items() if k != "status"}
            console.print(f"  {name}: {check.get('status')} {detail}")
