"""Is the node alive and trading as it should? One answer from in-memory state, cheap to ask.

`assess` grades each part ok, degraded or down and the node by its worst part. It reads what
the node holds in memory (no database, no venue call), so a load balancer may ask every second.
Without `verbose` it says states and numbers only, and of a stop not its cause (which names the
account's figures): the answer goes to callers without a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import TradingMode, TradingState
from tradeguard.node.kill_restart import kill_engaged
from tradeguard.node.stats import wall_ms
from tradeguard.secrets.redact import redact

if TYPE_CHECKING:
    from tradeguard.alerts.deadman import DeadManPing
    from tradeguard.config import HealthConfig
    from tradeguard.node.node import TradingNode

OK, DEGRADED, DOWN = "ok", "degraded", "down"
_RANK = {OK: 0, DEGRADED: 1, DOWN: 2}
_REASON_MAX = 200
STARTING_REASON = "starting: markets not loaded yet, retry"


def assess(
    node: TradingNode, lag_s: float | None, *, verbose: bool = False, now_ms: int | None = None
) -> dict[str, Any]:
    """Grade the node's liveness, loop, venues (breakers, user streams), market data, trading
    state and orders.

    `lag_s` is the event loop's last measured lag (None when not measured yet).
    """
    cfg = node.config.health
    now = wall_ms() if now_ms is None else now_ms
    checks = {
        "startup": _startup(node),
        "heartbeat": _heartbeat(node, cfg, now),
        "event_loop": _event_loop(lag_s, cfg),
        "venues": _venues(node, verbose, now),
        "market_data": _market_data(node, cfg, verbose),
        "trading": _trading(node, verbose),
        "orders": _orders(node, cfg),
        "database": _database(node, verbose),
    }
    worst = max((c["status"] for c in checks.values()), key=_RANK.__getitem__)
    return {"status": worst, "mode": node.mode.value, "ts": now, "checks": checks}


def _startup(node: TradingNode) -> dict[str, Any]:
    # `tradeguard run` serves the API while the node starts: an order sent then would find no
    # instrument rules, so the node is not ready until its markets are loaded.
    if not node.markets_loaded:
        return {"status": DOWN, "state": "starting", "reason": STARTING_REASON}
    return {"status": OK, "state": "started"}


def _heartbeat(node: TradingNode, cfg: HealthConfig, now: int) -> dict[str, Any]:
    live = node.liveness
    age = live.age_s(now)
    limit = cfg.heartbeat_max_age_s
    out: dict[str, Any] = {"age_s": None if age is None else round(age, 3), "limit_s": limit}
    if age is None:
        # A replay or an API-only node has no live loop to beat: nothing is late.
        return {"status": OK, "state": "not_live", **out}
    if not live.running:
        return {"status": DOWN, "state": "stopped", **out}
    if age > limit:
        return {"status": DOWN, "state": "late", **out}
    return {"status": OK, "state": "beating", **out}


def _event_loop(lag_s: float | None, cfg: HealthConfig) -> dict[str, Any]:
    limit = cfg.loop_lag_max_s
    late = lag_s is not None and lag_s > limit
    lag = None if lag_s is None else round(lag_s, 4)
    return {"status": DEGRADED if late else OK, "lag_s": lag, "limit_s": limit}


def _venues(node: TradingNode, verbose: bool, now: int) -> dict[str, Any]:
    breakers = node.risk.venue_breakers
    venues: dict[str, Any] = {}
    status = OK
    for name, venue in sorted(node.venues.items()):
        b = breakers.get(name)
        state = b.state if b is not None else "closed"
        item: dict[str, Any] = {"breaker": state}
        if verbose and b is not None:
            item["errors_in_window"] = len(b.failures)
            item["last_error"] = _short(b.last_error)
        if state != "closed":
            status = DEGRADED  # open refuses orders; half-open lets one probe through
        stream = venue.user_stream
        item["user_stream"] = {"state": "none"} if stream is None else stream.to_json(now)
        if item["user_stream"]["state"] == "disconnected":
            status = DEGRADED  # fills and cancels are learnt only at the next reconciliation
        held = getattr(venue, "held", None)
        swaps = held.listed() if held is not None and hasattr(held, "listed") else []
        if swaps:  # a DEX swap mined, not booked on its RPC's answer: in flight, and why
            item["held_swaps"] = len(swaps)
            if verbose:
                item["held"] = [{**x, "reason": _short(x["reason"])} for x in swaps]
            status = DEGRADED
        venues[name] = item
    return {"status": status, "venues": venues}


def _market_data(node: TradingNode, cfg: HealthConfig, verbose: bool) -> dict[str, Any]:
    hub = node.live
    limit = cfg.stale_streams_max
    if hub is None:
        return {"status": OK, "state": "no_live_data", "streams": 0, "stale": 0, "limit": limit}
    streams = hub.status()
    stale = [s for s in streams if s["stale"]]
    # a websocket down while REST snapshots stand in: data flows, slower and without depth
    fallback = [s for s in streams if s.get("state") == "rest_fallback"]
    # REST by design (a data-only Kalshi venue): normal, counted so it is not taken for a socket
    polled = sum(1 for s in streams if s.get("state") == "polled")
    failed = hub.failure() is not None
    degraded = len(stale) > limit or bool(fallback)
    status = DOWN if failed else (DEGRADED if degraded else OK)
    state = "failed" if failed else ("rest_fallback" if fallback else "streaming")
    out: dict[str, Any] = {
        "status": status,
        "state": state,
        "streams": len(streams),
        "stale": len(stale),
        "rest_fallback": len(fallback),
        "polled": polled,
        "limit": limit,
    }
    if fallback:
        out["fallback_since_ms"] = min(s["fallback_since_ms"] for s in fallback)
        out["reconnect_attempts"] = max(s["reconnect_attempts"] for s in fallback)
    if verbose:
        out["stale_streams"] = [
            {k: s[k] for k in ("venue", "symbol", "stream", "age_s", "reconnects")} for s in stale
        ]
        out["fallback_streams"] = [
            {k: s[k] for k in ("venue", "symbol", "stream", "fallback_since_ms",
                               "reconnect_attempts", "error")}
            for s in fallback
        ]  # fmt: skip
    return out


# what a caller without an account token reads of a stop: its cause names the account's
# figures (equity, drawdown, today's loss against their limits)
WITHHELD = "{state}: the cause is shown to an account token (GET /api/v1/health?verbose=true)"


def _trading(node: TradingNode, verbose: bool) -> dict[str, Any]:
    risk = node.risk
    state = risk.state
    if state is TradingState.ACTIVE:
        return {"status": OK, "state": state.value}
    kill = kill_engaged(risk)
    reason = _short(risk.state_reason) if verbose else WITHHELD.format(state=state.value.lower())
    return {"status": DEGRADED, "state": state.value, "reason": reason, "kill_switch": kill}


def _orders(node: TradingNode, cfg: HealthConfig) -> dict[str, Any]:
    unresolved = len(node.orders.unknown)
    limit = cfg.unresolved_orders_max
    return {
        "status": DEGRADED if unresolved > limit else OK,
        "unresolved": unresolved,
        "open": len(node.orders.open),
        "limit": limit,
    }


def _database(node: TradingNode, verbose: bool) -> dict[str, Any]:
    """Writes the database refused that the node went on without (`Storage.refused_writes`:
    `serve`'s stored valuation), until one of each is written again."""
    refused = node.storage.refused_writes
    if not refused:
        return {"status": OK, "refused": []}
    out: dict[str, Any] = {"status": DEGRADED, "refused": sorted(refused)}
    if verbose:
        out["reasons"] = {what: _short(why) for what, why in sorted(refused.items())}
    return out


def _short(text: str) -> str:
    text = redact(text or "")
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def is_healthy(node: TradingNode) -> bool:
    """Tell whether the node's health is ok now, by the live loop's own lag measure."""
    return bool(assess(node, node.liveness.lag_s)["status"] == OK)


def dead_man_ping(node: TradingNode) -> DeadManPing | None:
    """Build the dead-man ping of `alerts.heartbeat_url`, or None when it is off."""
    cfg = node.config.alerts
    url = cfg.heartbeat_url.get_secret_value()
    if not url or not cfg.enabled or node.mode is TradingMode.BACKTEST:
        return None
    from tradeguard.alerts.deadman import DeadManPing

    return DeadManPing(
        url,
        cfg.heartbeat_interval_s,
        lambda: is_healthy(node),
        method=cfg.heartbeat_method,
        timeout_s=min(cfg.timeout_s, cfg.heartbeat_interval_s * 2),
    )
