"""The kill switch: halt at once (persisted), then report what the executor cancelled and closed.

`KillSwitch.trigger` decides and records; the execution layer does the cancelling and, with
`flatten`, submits reduce-only market intents tagged `KILL_FLATTEN_TAG`, the one kind of order the
engine lets through while HALTED. It fills a `KillReport` with the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.events import Event, EventKind
from tradeguard.risk.engine import KILL_FLATTEN_TAG, RiskEngine

__all__ = ["KILL_FLATTEN_TAG", "KillReport", "KillRequest", "KillSwitch"]


@dataclass(frozen=True, slots=True)
class KillRequest:
    """Who pulled the switch, why, when, and whether positions must be closed too."""

    reason: str
    by: str
    flatten: bool
    ts: int

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "flatten": self.flatten, "ts": self.ts}


@dataclass(slots=True)
class KillReport:
    """What a kill did: orders cancelled, positions closed, and every failure with its reason."""

    request: KillRequest
    cancelled: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    closed_positions: list[str] = field(default_factory=list)
    # positions a close already working may sell: the flatten sent only what it leaves
    closing: list[dict[str, Any]] = field(default_factory=list)
    # per `closing` position: what the kill does once those closes end (node.kill_follow)
    follow_up: list[dict[str, Any]] = field(default_factory=list)
    finished_ts: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            **self.request.to_json(),
            "cancelled": list(self.cancelled),
            "closed_positions": list(self.closed_positions),
            "closing": list(self.closing),
            "follow_up": [dict(f) for f in self.follow_up],
            "failed": [{"id": i, "reason": r} for i, r in self.failed],
            "finished_ts": self.finished_ts,
        }


class KillSwitch:
    """Halt trading on request (CLI, API, sentinel file) and remember the request."""

    def __init__(
        self, engine: RiskEngine, clock: Clock, sentinel_path: str | Path | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.sentinel_path = Path(sentinel_path) if sentinel_path is not None else None
        self._sentinel_seen: float | None = None
        self.triggered_ts: int | None = None  # the last request this process triggered

    def trigger(self, reason: str, by: str, flatten: bool = False) -> KillRequest:
        """Set HALTED and record the request (both persisted before returning, before anything
        is cancelled: a kill cut short is finished at the next start, node.kill_restart)."""
        request = KillRequest(reason=reason, by=by, flatten=flatten, ts=self.clock.now_ms())
        self.triggered_ts = request.ts
        self.engine.halt(f"kill switch: {reason}", by)
        # the last resume when the kill was asked for: any other is later, whatever its clock
        # (a resume from the command line may stamp a replay's time), node.kill_restart
        self.engine.record_kill({**request.to_json(), "resume_before": self.engine.last_resume})
        self.engine.emit(
            Event(EventKind.KILL, request.ts, {"stage": "triggered", **request.to_json()},
                  severity="critical")
        )  # fmt: skip
        return request

    def poll(self) -> KillRequest | None:
        """Trigger once when the sentinel file appears; its text may say `flatten`."""
        path = self.sentinel_path
        if path is None:
            return None
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._sentinel_seen = None
            return None
        if self._sentinel_seen == stat.st_mtime:
            return None
        self._sentinel_seen = stat.st_mtime
        try:
            text = path.read_text(encoding="utf-8", errors="replace")[:1000]
        except OSError:
            text = ""
        flatten = "flatten" in text.lower()
        return self.trigger(f"sentinel file {path}", "sentinel", flatten)

    def report(self, request: KillRequest) -> KillReport:
        """Start the report the executor fills while cancelling and closing."""
        return KillReport(request=request)

    def finish(self, report: KillReport) -> None:
        """Record the filled report with the persisted state (unless a newer kill was asked for
        meanwhile: then in the audit log only) and in the audit log."""
        report.finished_ts = self.clock.now_ms()
        data = report.to_json()
        # Kills may overlap (a second asked for while the first still cancels): the stored
        # kill stays the last one asked for, so an older one ending neither hides a newer
        # one's flatten from the next start nor shows its request as the last.
        last = self.engine.last_kill
        asked = report.request.to_json()
        if last is None or all(last.get(k) == v for k, v in asked.items()):
            self.engine.record_kill(data)
        self.engine.emit(
            Event(EventKind.KILL, report.finished_ts, {"stage": "done", **data},
                  severity="critical")
        )  # fmt: skip
