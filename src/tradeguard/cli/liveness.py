"""What `tradeguard status` says of liveness: the stored heartbeat and the API's health answer."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from rich.console import Console

from tradeguard.cli.common import print_hanging, shown

_STATUS_STYLE = {"ok": "green", "degraded": "yellow", "down": "red"}


MAX_HEALTH_BYTES = 1_000_000  # a node's health answer is a few kB


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
        if state == "beating" and _gone(beat) and not _writer_alive(config):
            state = "gone"
    return {"state": state, "age_s": round(age, 1), "limit_s": limit, "pid": beat.get("pid")}


def _gone(beat: dict[str, Any]) -> bool:
    """Whether the beat's pid names no process here (it ended, or lives in another PID namespace
    on the same hostname: the writer lock tells these apart)."""
    pid, host = beat.get("pid"), beat.get("host")
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return False  # another host's process (or a beat that does not say) cannot be asked
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, under another user
    return False


def _writer_alive(config: Any) -> bool:
    """Whether a process holds the database's writer lock: the node may run in another PID
    namespace on this hostname (a container), where its pid names nothing here."""
    from tradeguard.storage.lock import writer_lock_held

    return writer_lock_held(config.node.database_url) is True


def api_base(config: Any, given: str | None) -> str | None:
    """Return the API to ask: `--api`, else the config's own when the API is enabled."""
    if given:
        return _checked_api_url(given).rstrip("/")
    return config_api_url(config.api) if config.api.enabled else None


def _checked_api_url(given: str) -> str:
    """`--api` as given, once it reads as an http(s) URL with a host and a valid port; a bad
    one was "not reachable" with exit 0, or (an unclosed IPv6 bracket) a traceback."""
    from urllib.parse import urlsplit

    from tradeguard.model.errors import ConfigError

    try:
        parts = urlsplit(given)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"--api {given!r}: expected the node's API URL, e.g. http://127.0.0.1:8000"
        )
    return given


def config_api_url(api: Any) -> str:
    """The URL a node configured with `api` answers on, from this machine: a node bound to
    every address is asked on loopback, an IPv6 host in brackets."""
    host = "127.0.0.1" if api.host in ("0.0.0.0", "::", "") else api.host
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if api.tls_certfile else 'http'}://{host}:{api.port}"


def fetch_health(base: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """GET `base`/api/v1/health; on failure return {"status": "unreachable", "error": ...}.
    The whole answer within `timeout_s` (not each read: a server dripping bytes would stall
    `status`), at most MAX_HEALTH_BYTES, and a redirect is an error, not followed."""
    import json

    from tradeguard.cli.bounded_get import FetchError, bounded_get

    try:
        code, raw = bounded_get(
            f"{base}/api/v1/health", deadline_s=timeout_s, max_bytes=MAX_HEALTH_BYTES
        )
        if len(raw) > MAX_HEALTH_BYTES:
            raise FetchError(f"answer over {MAX_HEALTH_BYTES:,} bytes")
        body = json.loads(raw)
    except (FetchError, ValueError, RecursionError) as exc:
        return {"status": "unreachable", "error": f"{type(exc).__name__}: {exc}", "api": base}
    if not isinstance(body, dict) or "status" not in body:
        return {"status": "unreachable", "error": f"HTTP {code}", "api": base}
    return {**body, "api": base}


def print_liveness(
    console: Console, heartbeat: dict[str, Any], health: dict[str, Any] | None
) -> None:
    """Print the heartbeat line and, when asked, the API's health with what is not ok."""

    def say(markup: str) -> None:
        print_hanging(console, markup)

    if heartbeat["state"] == "none":
        say("Heartbeat: none stored (the node has not run live on this database)")
    else:
        state = heartbeat["state"]
        style = {"late": "red", "gone": "red", "stopped": "yellow"}.get(state, "green")
        note = {
            "late": " (stopped or hung)",
            "gone": " (that process has ended)",
            "stopped": " (the live loop ended)",
        }.get(state, "")
        say(
            f"Heartbeat: [{style}]{heartbeat['state']}[/], {heartbeat['age_s']} s ago "
            f"(limit {heartbeat['limit_s']} s, pid {heartbeat['pid']}){note}"
        )
    if health is None:
        return
    status = str(health.get("status"))
    if status == "unreachable":
        where, why = shown(health["api"]), shown(health["error"])
        say(f"Health: [red]API not reachable[/] at {where}: {why}")
        return
    style = _STATUS_STYLE.get(status, "white")
    say(f"Health: [{style}]{shown(status)}[/] ({shown(health['api'])})")
    for name, check in (health.get("checks") or {}).items():
        if isinstance(check, dict) and check.get("status") != "ok":
            detail = ", ".join(f"{k} {v}" for k, v in check.items() if k != "status")
            say(f"  {shown(name)}: {shown(check.get('status'))}: {shown(detail)}")
    venues = ((health.get("checks") or {}).get("venues") or {}).get("venues") or {}
    for name, item in sorted(venues.items()):
        say(f"  user stream {shown(name)}: {user_stream_text(item.get('user_stream') or {})}")
    market = (health.get("checks") or {}).get("market_data") or {}
    if market.get("rest_fallback"):
        say(f"  market data streams: {fallback_text(market)}")
    if market.get("polled"):
        polled = shown(market["polled"])
        say(f"  market data streams: {polled} polled from REST by design (no websocket)")


def fallback_text(market: dict[str, Any]) -> str:
    """Market-data streams whose websocket is down, in words: how many, since when, attempts."""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(market["fallback_since_ms"]) / 1000))
    return (
        f"[red]degraded[/], {shown(market['rest_fallback'])} on REST fallback (websocket down) "
        f"since {since} UTC, {shown(market['reconnect_attempts'])} reconnect attempt(s)"
    )


def user_stream_text(stream: dict[str, Any]) -> str:
    """One venue's private stream in words: state, since when, last message, reconnects."""
    state = str(stream.get("state") or "unknown")
    if state == "none":
        return "none (orders and fills are learnt by request)"
    if state not in ("connected", "disconnected"):
        return shown(state)  # as the API answered it: never read as markup
    style = "green" if state == "connected" else "red"
    parts = [f"[{style}]{state}[/]"]
    if stream.get("since_ms"):
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(stream["since_ms"]) / 1000))
        parts.append(f"since {since} UTC")
    age = stream.get("last_message_age_s")
    parts.append("no message yet" if age is None else f"last message {shown(age)} s ago")
    parts.append(f"{shown(stream.get('reconnects', 0))} reconnect(s)")
    return ", ".join(parts)
