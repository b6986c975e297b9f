"""The kill switch: halt at once (persisted), then report what the executor cancelled and closed.

`KillSwitch.trigger` decides and records; the execution layer does the cancelling and, with
`flatten`, submits reduce-only market intents tagged `KILL_FLATTEN_TAG`, the one kind of order the
engine lets through while HALTED. It fills a `KillReport` with the outcome.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.events import Event, EventKind
from tradeguard.model.text import escaped
from tradeguard.risk.engine import KILL_FLATTEN_TAG, RiskEngine
from tradeguard.risk.state import FLATTEN_WAITS

# what a halt held in memory only means (a kill's, and execution.held_halts' own)
NOT_STORED = (
    "the halt holds in memory only: a restart does not know it, and reconciles before any trade"
)

__all__ = [
    "KILL_FLATTEN_TAG",
    "KillReport",
    "KillRequest",
    "KillSwitch",
    "flatten_unfinished",
    "read_kill_file",
    "resumed_since",
    "sentinel_line",
    "unfinished",
]

log = logging.getLogger(__name__)
TAKEN = ".taken-"  # the kill file is renamed to `<name>.taken-<ns>` the moment the node takes it
# a line `tradeguard kill` writes beside a running node (cli/control.py, `sentinel_line`)
_ASKED = re.compile(r"(halt|flatten): (.+) \(by ([^()\n]+)\)")


# the most of a kill file read: some 300 kills of `tradeguard kill` appended before the node
# takes the file (it looks each second); 1000 characters held four, and a fifth's `flatten` was
# never read
KILL_FILE_CHARS = 64 * 1024


def sentinel_line(flatten: bool, reason: str, by: str) -> str:
    """Return the kill file line asking for a kill: its verb says whether it flattens."""
    # who asked is a login name, which may hold `(`, `)` or a line break: the line must still
    # read as this one (else its reason's words decide, and "do not flatten" flattened)
    who = " ".join(by.translate(_WHO).split()) or "?"
    return f"{'flatten' if flatten else 'halt'}: {reason} (by {who})\n"


_WHO = str.maketrans("()", "[]")


def read_kill_file(text: str) -> tuple[bool, str, str]:
    """Return (flatten, reason, who) the kill file's text asks for ("" when it names none).

    Each line `sentinel_line` wrote says it by its verb, whatever its reason holds ("do not
    flatten" halts only); any other line flattens when it holds the word `flatten`. The kill
    flattens when any line asks it; its reason and who are the last `sentinel_line`'s."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    asked = [(_ASKED.fullmatch(line), line) for line in lines]
    if not lines:
        return "flatten" in text.lower(), "", ""
    flatten = any(m.group(1) == "flatten" if m else "flatten" in line.lower() for m, line in asked)
    found = [m for m, _ in asked if m is not None]
    return (flatten, found[-1].group(2), found[-1].group(3)) if found else (flatten, "", "")


def _read_kill_file(path: Path) -> str:
    """The kill file's text, at most `KILL_FILE_CHARS`; a line cut there is left out."""
    with path.open(encoding="utf-8", errors="replace") as file:
        text = file.read(KILL_FILE_CHARS + 1)
    if len(text) > KILL_FILE_CHARS:
        head, cut, _ = text[:KILL_FILE_CHARS].rpartition("\n")
        text = head if cut else text[:KILL_FILE_CHARS]  # one line written by hand: kept
    return text


def resumed_since(kill: dict[str, Any], resume: Any) -> bool:
    """Whether trading was resumed after the kill `kill` was asked for (`resume`: the last)."""
    if not isinstance(resume, dict):
        return False
    if "resume_before" in kill:  # the last resume when the kill was asked for: any other is later
        return resume != kill["resume_before"]
    return int(resume.get("ts", 0)) >= int(kill["ts"])


def unfinished(kill: Any, resume: Any = None) -> bool:
    """Whether the stored kill `kill` was triggered and never ended, nor resumed from
    (`resume`: the last resume stored)."""
    return (isinstance(kill, dict) and "ts" in kill and not kill.get("finished_ts")
            and not resumed_since(kill, resume))  # fmt: skip


def flatten_unfinished(kill: Any, resume: Any = None) -> bool:
    """Whether the stored kill `kill` asked to flatten and has not ended (nor been resumed)."""
    return unfinished(kill, resume) and bool(kill.get("flatten"))


def record_unfinished(engine: Any, ts: int, kill: dict[str, Any], why: str) -> None:
    """Store `kill` as not ended, saying `why`, and tell it (a critical KILL event)."""
    engine.record_kill({**kill, "unfinished": why})
    engine.emit(Event(EventKind.KILL, ts, {"stage": "unfinished", "why": why, **kill},
                      severity="critical"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class KillRequest:
    """Who pulled the switch, why, when, and whether positions must be closed too."""

    reason: str
    by: str
    flatten: bool
    ts: int
    sentinel: str = ""  # the name the kill file was taken under (a kill asked by the file)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reason": self.reason, "by": self.by, "flatten": self.flatten,
                                "ts": self.ts}  # fmt: skip
        if self.sentinel:
            data["sentinel"] = self.sentinel
        return data


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
    """Halt trading on request (CLI, API, sentinel file) and remember the request.

    The kill file is taken before it is read: renamed at once to `<name>.taken-<ns>` (one atomic
    step), so a write after that creates a new kill file, the next kill, and the end of a kill
    removes only the file it took. A taken file written again after it was read (a writer that
    opened the kill file before it was taken) is acted on again instead of removed; one a
    stopped node left is dropped when the stored kill names it (that kill was asked for, and
    start-up finishes it) and acted on otherwise.
    """

    def __init__(
        self, engine: RiskEngine, clock: Clock, sentinel_path: str | Path | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.sentinel_path = Path(sentinel_path) if sentinel_path is not None else None
        self._sentinel_seen: float | None = None  # a kill file that could not be taken
        self._taken: dict[str, tuple[int, int, int]] = {}  # taken name -> (inode, mtime, size)
        self._late: deque[Path] = deque()  # taken files still to act on
        self._leftovers_checked = False
        self.triggered_ts: int | None = None  # the last request this process triggered
        # the store's refusals a running node's kill holds in memory and goes on with (the
        # database's, set at its start); none: a refused store raises (a kill of a stopped
        # node, which would come back trading, fails instead)
        self.held_errors: tuple[type[Exception], ...] = ()

    def trigger(
        self, reason: str, by: str, flatten: bool = False, sentinel: str = ""
    ) -> KillRequest:
        """Set HALTED and record the request (both persisted before returning, before anything
        is cancelled: a kill cut short is finished at the next start, node.kill_restart)."""
        if not flatten and flatten_unfinished(self.engine.last_kill, self.engine.last_resume):
            # the stored kill is the one the next start finishes: a halt stored over a flatten
            # still running (a loss limit's, a --flatten) left the positions held after a crash
            log.warning("kill switch: %s asked a halt while a flatten has not ended; this kill "
                        "flattens too", by)  # fmt: skip
            flatten = True
        request = KillRequest(reason=reason, by=by, flatten=flatten, ts=self.clock.now_ms(),
                              sentinel=sentinel)  # fmt: skip
        self.triggered_ts = request.ts
        engine, halt = self.engine, f"kill switch: {reason}"
        before = engine.state
        why = self._stored(partial(engine.halt, halt, by))
        if why:  # HALTED in memory, unsaid (its event follows its store): said, as not stored
            said = f"{halt}; NOT STORED: storing the halt failed ({why}); {NOT_STORED}"
            data = {"from": before.value, "to": engine.state.value, "reason": said, "by": by,
                    "stored": False}  # fmt: skip
            engine.emit(Event(EventKind.STATE_CHANGED, request.ts, data, severity="critical"))
        # the last resume when the kill was asked for: any other is later, whatever its clock
        # (a resume from the command line may stamp a replay's time), node.kill_restart
        asked = {**request.to_json(), "resume_before": engine.last_resume}
        why = self._stored(partial(engine.record_kill, asked)) or why
        told = {"stage": "triggered", **request.to_json(), **({"stored": False} if why else {})}
        engine.emit(Event(EventKind.KILL, request.ts, told, severity="critical"))
        return request

    def _stored(self, write: Callable[[], None]) -> str:
        """Run one of the kill's stores; a refusal of `held_errors` (the database full) is
        logged and returned in the driver's words, the change held in memory (saved with the
        next save of the risk state): the kill goes on to cancel. "" when it was stored."""
        try:
            write()
        except self.held_errors as exc:
            cause = getattr(exc, "orig", None) or exc
            why = f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}"
            log.critical("kill switch: trading HALTED, not stored (%s); %s", why, NOT_STORED)
            return why
        return ""

    def take_loss_flatten(self, reconciled: bool = True) -> KillRequest | None:
        """Take the flatten a loss limit asked for (`risk.on_loss_halt = "flatten"`): stored
        and HALTED already, it runs as a kill with flatten does. `reconciled`: whether the
        last reconciliation succeeded; when it failed (after the trip, before this), nothing
        is closed from that book: the stored kill is left unfinished, saying it waits, and the
        next reconciliation that succeeds runs it (node.kill_restart)."""
        asked = self.engine.flatten_asked
        if asked is None:
            return None
        self.engine.flatten_asked = None
        last = self.engine.last_kill
        if not (isinstance(last, dict) and last.get("ts") == asked["ts"]) or last.get(
            "finished_ts"
        ):
            return None  # run already (a start or a reconciliation finished it), or replaced
        if not reconciled:
            record_unfinished(self.engine, self.clock.now_ms(), last, FLATTEN_WAITS)
            log.critical("kill switch: %s", FLATTEN_WAITS)
            return None
        request = KillRequest(reason=str(asked["reason"]), by=str(asked["by"]),
                              flatten=True, ts=int(asked["ts"]))  # fmt: skip
        self.triggered_ts = request.ts
        self.engine.emit(
            Event(EventKind.KILL, request.ts, {"stage": "triggered", **request.to_json()},
                  severity="critical")
        )  # fmt: skip
        return request

    def poll(self, reconciled: bool = True) -> KillRequest | None:
        """Trigger once for each kill file written (taken first); its text may say `flatten`.
        A flatten a loss limit asked for comes first (`take_loss_flatten`, `reconciled` as
        there)."""
        request = self.take_loss_flatten(reconciled)
        if request is not None:
            return request
        path = self.sentinel_path
        if path is None:
            return None
        if not self._leftovers_checked:
            self._leftovers_checked = True
            self._take_up_leftovers(path)
        if self._late:
            return self._act(self._late.popleft(), path)
        taken = path.with_name(f"{path.name}{TAKEN}{time.time_ns()}")
        try:
            os.rename(path, taken)
        except FileNotFoundError:
            self._sentinel_seen = None
            return None
        except OSError as exc:  # a folder the node may not write: act on the file in place
            return self._untakeable(path, exc)
        return self._act(taken, path)

    def release(self, request: KillRequest) -> None:
        """At the end of `request`'s kill: remove the kill file it took, unless written again
        since it was read (then the next poll acts on it)."""
        if not request.sentinel or self.sentinel_path is None:
            return
        taken = self.sentinel_path.with_name(request.sentinel)
        seen = self._taken.pop(request.sentinel, None)
        try:
            now = _signature(taken)
        except OSError:
            return
        if seen is not None and now != seen:
            log.critical("kill switch: the kill file %s was written again after it was read; "
                         "acting on it again", taken)  # fmt: skip
            self._late.append(taken)
            return
        taken.unlink(missing_ok=True)

    def _act(self, taken: Path, path: Path) -> KillRequest | None:
        try:
            self._taken[taken.name] = _signature(taken)
            text = _read_kill_file(taken)
        except FileNotFoundError:
            return None
        except OSError:
            text = ""
        return self._trigger_file(text, path, sentinel=taken.name)

    def _trigger_file(self, text: str, path: Path, sentinel: str = "") -> KillRequest:
        flatten, reason, by = read_kill_file(text)
        # stored, audited, logged and shown as the API's reasons are: one line of text; the
        # file still halts, its control characters kept as escapes (a refusal would not)
        reason, by = escaped(reason), escaped(by)
        where = f"sentinel file {path}"
        return self.trigger(f"{reason} ({where})" if reason else where, by or "sentinel",
                            flatten, sentinel=sentinel)  # fmt: skip

    def _take_up_leftovers(self, path: Path) -> None:
        """Kill files a stopped node took: dropped when the stored kill names one (it was
        asked for; start-up finishes it when it never ended), else acted on."""
        named = (self.engine.last_kill or {}).get("sentinel")
        pattern = glob.escape(path.name) + glob.escape(TAKEN) + "*"
        for old in sorted(path.parent.glob(pattern)):
            if old.name == named:
                old.unlink(missing_ok=True)
            else:
                log.critical("kill switch: the kill file %s was taken by a node that stopped "
                             "before it asked for the kill; acting on it now", old)  # fmt: skip
                self._late.append(old)

    def _untakeable(self, path: Path, exc: OSError) -> KillRequest | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        if self._sentinel_seen == stat.st_mtime:
            return None
        self._sentinel_seen = stat.st_mtime
        log.critical("kill switch: cannot take the kill file %s (%s): acting on it in place; "
                     "remove it once the kill ends", path, exc.strerror or exc)  # fmt: skip
        try:
            text = _read_kill_file(path)
        except OSError:
            text = ""
        return self._trigger_file(text, path)

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
            self._stored(partial(self.engine.record_kill, data))
        self.engine.emit(
            Event(EventKind.KILL, report.finished_ts, {"stage": "done", **data},
                  severity="critical")
        )  # fmt: skip


def _signature(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size
