"""A strategy's record outbox: the events a record kept with its row in one commit, published
after it, and at the next start if a kill came in between (`announce_outbox`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradeguard.model.events import Event
from tradeguard.storage.types import jsonable, without_nul

OUTBOX_KEY = "strategy.record_outbox:{}"


def event_json(event: Event) -> dict[str, Any]:
    """`event` as kept in the outbox (`OUTBOX_KEY`)."""
    return {"kind": event.kind, "ts": event.ts, "data": dict(event.data), "venue": event.venue,
            "symbol": event.symbol, "strategy_id": event.strategy_id,
            "severity": event.severity}  # fmt: skip


def announce_outbox(storage: Any, strategy_id: str, publish: Callable[[Event], None]) -> int:
    """Publish the events the strategy's newest record kept and a kill kept off the bus, then
    drop them; return how many. Called once at start, before the strategy trades. One the
    audit log holds already (published, the kill came before the outbox was emptied) is not
    published again."""
    key = OUTBOX_KEY.format(strategy_id)
    kept = storage.kv_get(key)
    if not kept:
        return 0
    events = [Event(**e) for e in kept if isinstance(e, dict) and not _audited(storage, e)]
    for event in events:
        publish(event)
    with storage.transaction():
        storage.kv_delete(key)
    return len(events)


def _audited(storage: Any, kept: Mapping[str, Any]) -> bool:
    """Tell whether the audit log holds the kept event itself: its kind, time, strategy, venue,
    symbol and data (another of the same kind and time, such as a second pair settled within
    the millisecond, is not it)."""
    kind, ts = str(kept.get("kind")), kept.get("ts")
    want = _stored(kept.get("data") or {})
    return any(
        e.kind == kind and e.ts == ts and e.strategy_id == kept.get("strategy_id")
        and e.venue == kept.get("venue") and e.symbol == kept.get("symbol")
        and _stored(e.data) == want
        for e in storage.load_events(kind_prefix=kind, since_ts=ts, limit=1000)
    )  # fmt: skip


def _stored(data: Mapping[str, Any]) -> Any:
    """`data` as either table keeps it (Decimals as strings, no NUL), to compare one with the
    other."""
    return without_nul(jsonable(dict(data)))
