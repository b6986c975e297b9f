"""Keep alerts in the database until delivered, so a crash before delivery loses none.

An alert is written (one `kv_state` row per channel) in the commit of the work it reports, or
in a commit of its own when there is none; a channel that delivers it deletes its row; the next
start queues what is left. At most `MAX_PENDING` rows are kept: past that the oldest are
dropped (a receiver down for long must not grow the table without bound).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from tradeguard.alerts.rules import Alert

log = logging.getLogger(__name__)

PREFIX = "alerts.pending:"
# rows (one per alert and channel) kept for delivery; the oldest go first past it
MAX_PENDING = 1000
_FIELDS = ("rule", "title", "text", "severity", "dedupe_key", "ts", "id")


_last_ns = 0
_ids_lock = threading.Lock()


def new_alert_id() -> str:
    """Return a fresh alert id: its time first, so ids sort by when they were raised."""
    global _last_ns
    with _ids_lock:  # two raised within the clock's resolution still sort in order
        _last_ns = max(time.time_ns(), _last_ns + 1)
        ns = _last_ns
    return f"{ns:020d}-{uuid.uuid4().hex[:12]}"


def _key(alert_id: str, channel: str) -> str:
    return f"{PREFIX}{alert_id}/{channel}"


class AlertOutbox:
    """Alerts waiting for delivery, per channel, in the database's kv table."""

    def __init__(self, storage: Any, limit: int = MAX_PENDING) -> None:
        self.storage = storage
        self.limit = limit
        self.dropped = 0

    def add(self, alerts: Sequence[Alert], channels: Sequence[str]) -> None:
        """Write `alerts` for each of `channels` (inside the caller's transaction, if open)."""
        if not alerts or not channels:
            return
        with self.storage.transaction():
            for alert in alerts:
                value = {f: getattr(alert, f) for f in _FIELDS}
                for channel in channels:
                    self.storage.kv_set(_key(alert.id, channel), value)
            self._trim()

    def _trim(self) -> None:
        keys = [k for k, _ in self.storage.kv_prefixed(PREFIX)]
        over = len(keys) - self.limit
        if over <= 0:
            return
        for key in keys[:over]:
            self.storage.kv_delete(key)
        self.dropped += over
        log.warning(
            "alerts: %d undelivered alert(s) dropped, the oldest: at most %d are kept for delivery",
            over,
            self.limit,
        )

    def delivered(self, alert_id: str, channel: str) -> None:
        """Forget `alert_id` for `channel`: it was delivered."""
        if not alert_id:
            return
        with self.storage.transaction():
            self.storage.kv_delete(_key(alert_id, channel))

    def pending(self, channels: Sequence[str]) -> list[tuple[str, Alert]]:
        """Return (channel, alert) for every alert left undelivered, oldest first; rows of a
        channel no longer configured are deleted."""
        out: list[tuple[str, Alert]] = []
        gone: list[str] = []
        for key, value in self.storage.kv_prefixed(PREFIX):
            channel = key[len(PREFIX) :].partition("/")[2]
            if channel not in channels or not isinstance(value, dict):
                gone.append(key)
                continue
            out.append((channel, _alert(value)))
        if gone:
            with self.storage.transaction():
                for key in gone:
                    self.storage.kv_delete(key)
        return out


def _alert(value: dict[str, Any]) -> Alert:
    text = {f: str(value.get(f) or "") for f in _FIELDS if f != "ts"}
    return Alert(
        rule=text["rule"], title=text["title"], text=text["text"], severity=text["severity"],
        dedupe_key=text["dedupe_key"], ts=int(value.get("ts") or 0), id=text["id"],
    )  # fmt: skip


def with_id(alert: Alert) -> Alert:
    """Return `alert` with an id, keeping one it has."""
    return alert if alert.id else dataclasses.replace(alert, id=new_alert_id())
