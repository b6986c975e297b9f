"""The persisted trading state: ACTIVE / REDUCING / HALTED, its counters, and how it moves.

HALTED blocks every new order until an operator resumes; REDUCING lets only orders that shrink a
position through and never softens a halt. A daily-loss halt cannot be resumed before the next
UTC day; every other halt (kill switch, drawdown, no equity) can be resumed at once. A halt set
over REDUCING remembers it: a halt lifted by the one who set it (the reconciler) goes back to
REDUCING, never to ACTIVE; only an operator's `resume` returns to ACTIVE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradeguard.clock import Clock
from tradeguard.model.enums import TradingState
from tradeguard.model.errors import TradeguardError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.order import OrderIntent
from tradeguard.portfolio.equity import EquityTracker
from tradeguard.risk.breakers import VenueBreaker, utc_day
from tradeguard.risk.config import RiskConfig
from tradeguard.risk.loss_history import LossHistory
from tradeguard.risk.views import StateStore

log = logging.getLogger(__name__)

STATE_VERSION = 1
DRAWDOWN_BY = "breaker:drawdown"  # who a drawdown halt or reduction is by
DAILY_LOSS_BY = "breaker:daily_loss"
# the breakers `risk.on_loss_halt` applies to (no equity is a figure unread, not a loss: it halts)
LOSS_LIMIT_BY = frozenset({DRAWDOWN_BY, DAILY_LOSS_BY})
# The reconciler lifts its own halt after a good pass (execution.reconcile.RECONCILER): a loss
# breaker tripping during that halt takes it over, so that only an operator lifts it.
RECONCILER_BY = "reconciler"
# A database refusing the node's checkpoint halts by this name until a checkpoint is written
# (node.duties.checkpoint_or_halt); a reconciliation failing meanwhile takes that halt over.
CHECKPOINT_BY = "checkpoint"
# the halts that lift themselves (a good reconciliation, a checkpoint written): a loss breaker
# tripping under one takes it over, and a losing streak under one makes its lift REDUCING
SELF_LIFTING_BY = frozenset({RECONCILER_BY, CHECKPOINT_BY})
# why a loss limit's flatten asked for under the reconciler's halt has not run (node.kill_restart)
FLATTEN_WAITS = (
    "the loss limit tripped while reconciliation was failing (or a reconciliation failed "
    "before its flatten was sent): nothing is closed from a book not reconciled; the flatten "
    "runs once a reconciliation succeeds (node.reconcile_interval_s, or the next start)"
)


class ResumeRefused(TradeguardError):
    """`resume` was asked for while a halt must still hold; the message says until when."""


def day_label(day: int) -> str:
    """Return the UTC date (YYYY-MM-DD) of a day number."""
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def resume_day(halt_day: Any, now_ms: int) -> int | None:
    """The UTC day from which `resume` may lift a halt the daily loss limit set on `halt_day`
    (that limit refuses it before: ResumeRefused); None when nothing holds it back at `now_ms`."""
    if not isinstance(halt_day, int) or now_ms // 86_400_000 > halt_day:
        return None
    return halt_day + 1


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class RiskState:
    """The engine's persisted state and its transitions; saved through a `StateStore`."""

    def __init__(
        self,
        config: RiskConfig,
        clock: Clock,
        store: StateStore,
        emit: Callable[[Event], None],
    ) -> None:
        self.config = config
        self._clock = clock
        self._store = store
        self._emit = emit
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self.state_by = ""
        self.state_ts = 0
        self.halt_source = ""
        self.daily_loss_halt_day: int | None = None
        self.day: int | None = None
        self.day_start_equity: Decimal | None = None
        self.week: int | None = None
        self.week_start_equity: Decimal | None = None
        self.equity_tracker = EquityTracker()
        self.trades_today = 0
        self.warning_day: int | None = None
        self.consecutive_losses = 0
        self.reducing_until: int | None = None
        self.venue_breakers: dict[str, VenueBreaker] = {}
        self.cooldowns: dict[tuple[str, str], int] = {}
        # per strategy, the newest arbitrage record whose result the streak has taken
        self.cycles_seen: dict[str, int] = {}
        # per strategy, the settlements (held positions paid out) the streak has taken, newest
        # last: a start that settles again what a kill kept from the checkpoint counts it once
        self.settlements_seen: dict[str, list[str]] = {}
        # the keyed losses the streak and the after-loss cooldowns still count (take-back)
        self.losses = LossHistory()
        self.last_resume: dict[str, Any] | None = None
        self.last_kill: dict[str, Any] | None = None
        # The REDUCING state (state, reason, by, ts) a halt was set over, restored when the
        # halt is lifted by the one who set it; None when the halt came over ACTIVE.
        self.halted_over: dict[str, Any] | None = None
        # the last loss-limit trip: which breaker, the `risk.on_loss_halt` mode it acted in and
        # the state it left (shown by `status`, the API and the dashboard)
        self.last_loss_halt: dict[str, Any] | None = None
        # a flatten a loss limit asked for in this process, not yet taken by the kill switch
        # (`KillSwitch.poll`); one a crash cut short is finished at the next start from
        # `last_kill` (node.kill_restart), so this is never persisted
        self.flatten_asked: dict[str, Any] | None = None
        # the newest balance adjustment whose money moved the baselines (day / week start,
        # peak); None until the node has read them: those before it are in the baselines
        self.flows_seen: int | None = None
        # halts owed beneath another one, by who (the checkpoint's, refused while a kill or the
        # reconciler halted): lifting the one on top takes the owed one up instead (memory only)
        self.halts_beneath: dict[str, str] = {}
        self._dirty = False
        self._counts_dirty = False  # approvals: written at the next observation, not throttled
        self._last_save_ms = 0
        self._restore()

    @property
    def peak_equity(self) -> Decimal | None:
        return self.equity_tracker.peak

    @peak_equity.setter
    def peak_equity(self, value: Decimal | None) -> None:
        self.equity_tracker.peak = value

    @property
    def last_equity(self) -> Decimal | None:
        return self.equity_tracker.last

    @last_equity.setter
    def last_equity(self, value: Decimal | None) -> None:
        self.equity_tracker.last = value

    # transitions --------------------------------------------------------------------------------
    def halt(self, reason: str, by: str) -> None:
        """Block every new order until `resume`; persisted at once."""
        if self.state is not TradingState.HALTED:
            self.halted_over = self._current() if self.state is TradingState.REDUCING else None
        elif self.state_by == CHECKPOINT_BY and by != CHECKPOINT_BY:
            # a checkpoint not written stays owed beneath the halt taking it over
            self.halts_beneath[CHECKPOINT_BY] = self.state_reason
        self._set_state(TradingState.HALTED, reason, by)

    def reduce_after_halt(self, reason: str, by: str) -> None:
        """Make the state a halt lifts back to REDUCING (a breaker tripped while halted)."""
        if self.state is not TradingState.HALTED:
            self.set_reducing(reason, by)
            return
        if self.halted_over is None:
            self.halted_over = {"state": TradingState.REDUCING.value, "reason": reason,
                                "by": by, "ts": self._clock.now_ms()}  # fmt: skip
        self._save()

    def _current(self) -> dict[str, Any]:
        return {"state": self.state.value, "reason": self.state_reason, "by": self.state_by,
                "ts": self.state_ts}  # fmt: skip

    def set_reducing(self, reason: str, by: str) -> None:
        """Let only exposure-reducing orders pass; never softens a HALTED state."""
        if self.state is TradingState.HALTED:
            return
        self._set_state(TradingState.REDUCING, reason, by)

    def loss_halt(self, reason: str, by: str) -> None:
        """Act on a tripped loss limit as `risk.on_loss_halt` says: HALTED (halt), REDUCING
        (reduce: exits still go), or HALTED with every position closed (flatten, run by the
        kill switch's flatten path); persisted at once."""
        mode = self.config.on_loss_halt
        now = self._clock.now_ms()
        unreconciled = self.state is TradingState.HALTED and self.state_by == RECONCILER_BY
        if mode == "reduce":
            if self.state is TradingState.HALTED:  # the reconciler's: its lift comes back here
                self.halted_over = {"state": TradingState.REDUCING.value, "reason": reason,
                                    "by": by, "ts": now}  # fmt: skip
            else:
                self._set_state(TradingState.REDUCING, reason, by)
        else:
            self.halt(reason, by)
        # the state this trip leaves: a reduce under the reconciler's halt is REDUCING once
        # the reconciler lifts it
        left = TradingState.REDUCING.value if mode == "reduce" else self.state.value
        self.last_loss_halt = {"by": by, "mode": mode, "reason": reason, "ts": now,
                               "state": left}  # fmt: skip
        if mode == "flatten":
            ask = {"reason": f"loss limit: {reason}", "by": by, "flatten": True, "ts": now,
                   "on_loss_halt": mode}  # fmt: skip
            # stored as the kill switch stores a kill: a crash before it ends is finished at
            # the next start, after reconciliation, so nothing is sold twice. Under a failed
            # reconciliation it is left unfinished: the next good reconciliation runs it
            # (node.duties.PeriodicReconcile, node.kill_restart), never a book not checked.
            waits = {"unfinished": FLATTEN_WAITS} if unreconciled else {}
            self.record_kill({**ask, "resume_before": self.last_resume, **waits})
            self.flatten_asked = None if unreconciled else ask
        self._save_now()

    def record_kill(self, request: dict[str, Any]) -> None:
        """Keep the last kill-switch request with the persisted state."""
        self.last_kill = dict(request)
        self._save_now()

    def resume(self, by: str, reason: str) -> None:
        """Return to ACTIVE; refused (ResumeRefused) before the daily-loss halt's day is over.
        A halt owed beneath (`halts_beneath`: a checkpoint not written) then holds trading:
        the RESUME event and `last_resume` say so (`to`, `still_halted_by`, `..._reason`)."""
        if not by.strip() or not reason.strip():
            raise ValueError("resume needs who resumes (by) and why (reason); both were not given")
        now = self._clock.now_ms()
        halt_day = self.daily_loss_halt_day
        if halt_day is not None and utc_day(now) <= halt_day:
            raise self._refused(halt_day)
        before = self.state
        self.daily_loss_halt_day = None
        self.losses.streak_over(now, self.consecutive_losses)
        self.consecutive_losses = 0
        # Measure the next drawdown from here when a drawdown halt (or reduction) is resumed,
        # though the equity came back a little since, or when the old peak would halt again at
        # once; otherwise it stands: resuming a kill, a ledger halt or an ACTIVE node must not
        # give the drawdown breaker a fresh start.
        drawdown = self.equity_tracker.drawdown_pct()
        by_drawdown = DRAWDOWN_BY in (self.state_by, (self.halted_over or {}).get("by"))
        if (by_drawdown and before is not TradingState.ACTIVE) or (
            drawdown is not None and drawdown >= self.config.max_drawdown_pct
        ):
            self.equity_tracker.restart_peak()
        self.reducing_until = None
        self.halted_over = None
        data: dict[str, Any] = {"by": by, "reason": reason, "from": before.value,
                                "to": TradingState.ACTIVE.value}  # fmt: skip
        if self.halts_beneath:  # one owed beneath (a checkpoint not written) takes over
            owed_by, owed_reason = list(self.halts_beneath.items())[-1]
            data.update(to=TradingState.HALTED.value, still_halted_by=owed_by,
                        still_halted_reason=owed_reason)  # fmt: skip
        self.last_resume = {**data, "ts": now}  # stored with the state, said as it is
        self._set_state(TradingState.ACTIVE, reason, by)
        severity = "critical" if self.state is TradingState.HALTED else "warning"
        self._publish(EventKind.RESUME, now, data, None, severity)

    def lift_own_halt(self, by: str, reason: str) -> None:
        """End a halt `by` set itself (a failed reconciliation's, lifted by a good one): back to
        the state it was set over (REDUCING, or ACTIVE), never looser; the drawdown peak and
        the losing streak are kept, as an exchange blip must not give the breakers a fresh
        start. Refused (ResumeRefused) like `resume`, unless it goes back to a loss limit's own
        REDUCING (risk.on_loss_halt = "reduce"), which lets exits through all that day."""
        if self.state is not TradingState.HALTED or self.state_by != by:
            return
        if self.halts_beneath:  # one owed beneath (a checkpoint not written) takes it over
            owed_by, owed_reason = self.halts_beneath.popitem()
            self._set_state(TradingState.HALTED, owed_reason, owed_by)
            return
        now = self._clock.now_ms()
        halt_day = self.daily_loss_halt_day
        over = self.halted_over
        # back to a loss limit's own REDUCING (risk.on_loss_halt = "reduce") is no lift of it
        to_loss_reduce = (over is not None and over.get("state") == TradingState.REDUCING.value
                          and over.get("by") in LOSS_LIMIT_BY)  # fmt: skip
        if halt_day is not None and utc_day(now) <= halt_day and not to_loss_reduce:
            raise self._refused(halt_day)
        self.halted_over = None
        self.last_resume = {"by": by, "reason": reason, "ts": now, "from": self.state.value}
        if over is not None and over.get("state") == TradingState.REDUCING.value:
            self._set_state(TradingState.REDUCING, str(over["reason"]), str(over["by"]))
        else:
            self._set_state(TradingState.ACTIVE, reason, by)
        data = {"by": by, "reason": reason, "from": TradingState.HALTED.value,
                "to": self.state.value}  # fmt: skip
        self._publish(EventKind.RESUME, now, data, None, "warning")

    def _refused(self, halt_day: int) -> ResumeRefused:
        """The refusal of a resume before the day after `halt_day`, saying what the daily loss
        limit did (halted, or only reduced: risk.on_loss_halt = "reduce")."""
        last = self.last_loss_halt or {}
        reduced = last.get("by") == DAILY_LOSS_BY and last.get("mode") == "reduce"
        did = "put trading in REDUCING" if reduced else "halted trading"
        return ResumeRefused(
            f"resume refused: the daily loss limit {did} on {day_label(halt_day)} (UTC); "
            f"resume is possible from {day_label(halt_day + 1)} 00:00 UTC"
        )

    def _set_state(self, state: TradingState, reason: str, by: str) -> None:
        now = self._clock.now_ms()
        before = self.state
        if state is not TradingState.HALTED and self.halts_beneath:
            # a halt owed beneath the one lifted (a checkpoint not written) takes it over
            if state is TradingState.REDUCING:  # what that one's own lift comes back to
                self.halted_over = {"state": state.value, "reason": reason, "by": by, "ts": now}
            by, reason = self.halts_beneath.popitem()
            state = TradingState.HALTED
        self.state = state
        self.state_reason = reason
        self.state_by = by
        self.state_ts = now
        self._save()
        data = {"from": before.value, "to": state.value, "reason": reason, "by": by}
        severity = "critical" if state is TradingState.HALTED else "warning"
        if state is TradingState.HALTED and before is not TradingState.HALTED:
            # said where the operator looks, not only in the audit log and `tradeguard status`
            log.critical("trading HALTED: %s", reason)
        self._publish(EventKind.STATE_CHANGED, now, data, None, severity)

    def emit(self, event: Event) -> None:
        """Send an event to the bus and the audit log."""
        self._emit(event)

    @contextmanager
    def events_held(self) -> Iterator[list[Event]]:
        """Keep the events published meanwhile in the list yielded, not on the bus: a change
        made inside a transaction is told by the caller once that commits (`emit`)."""
        held: list[Event] = []
        emit, self._emit = self._emit, held.append
        try:
            yield held
        finally:
            self._emit = emit

    def flush(self) -> None:
        """Persist counters changed since the last save (approvals, cooldowns, peak)."""
        if self._dirty:
            self._save()

    def _publish(
        self,
        kind: str,
        ts: int,
        data: dict[str, Any],
        intent: OrderIntent | None,
        severity: str = "info",
    ) -> None:
        if intent is None:
            self._emit(Event(kind, ts, data, "", "", "", severity))
        else:
            self._emit(
                Event(kind, ts, data, intent.venue, intent.symbol, intent.strategy_id, severity)
            )

    # persistence --------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Return the persisted state as a JSON-safe dict."""
        return {
            "version": STATE_VERSION,
            "state": self.state._value_,
            "state_reason": self.state_reason,
            "reason": self.state_reason,  # alias read by status commands
            "state_by": self.state_by,
            "state_ts": self.state_ts,
            "daily_loss_halt_day": self.daily_loss_halt_day,
            "day": self.day,
            "day_start_equity": _s(self.day_start_equity),
            "week": self.week,
            "week_start_equity": _s(self.week_start_equity),
            "peak_equity": _s(self.equity_tracker.peak),
            "last_equity": _s(self.equity_tracker.last),
            "trades_today": self.trades_today,
            "warning_day": self.warning_day,
            "consecutive_losses": self.consecutive_losses,
            "reducing_until": self.reducing_until,
            "venue_breakers": {v: b.to_json() for v, b in self.venue_breakers.items()},
            "cooldowns": [[s, sym, until] for (s, sym), until in self.cooldowns.items()],
            "cycles_seen": self.cycles_seen,
            "settlements_seen": self.settlements_seen,
            # only while some are kept: a state of none reads and writes as before
            # (with when they were saved: a start credits each with the downtime since)
            **(
                {"losses": kept, "losses_seen": self._clock.now_ms()}
                if (kept := self.losses.to_json())
                else {}
            ),
            "last_resume": self.last_resume,
            "last_kill": self.last_kill,
            "halted_over": self.halted_over,
            "last_loss_halt": self.last_loss_halt,
            "flows_seen": self.flows_seen,
        }

    def _save(self) -> None:
        now = self._clock.now_ms()
        # saved only once the store took it: a save that raises (its commit failed) is made
        # again by the next `flush`
        self._dirty = True
        # Expired cooldowns are dropped so the state stays small.
        self.cooldowns = {k: u for k, u in self.cooldowns.items() if u > now}
        self.losses.prune(now)
        # A store that writes at a later commit (`save_later`) builds the dict then: a backtest
        # saves after most fills and commits once in many candles.
        later = getattr(self._store, "save_later", None)
        if later is not None:
            later(self.to_state, self.state._value_)
        else:
            self._store.save(self.to_state())
        self._dirty = self._counts_dirty = False
        self._last_save_ms = now

    def _save_now(self) -> None:
        """`_save`, written before returning. A store commits at once only a change of the
        trading state: a kill or a loss limit's trip recorded after its HALTED would wait for
        the next commit, and a node killed meanwhile would come back HALTED without it (a
        flatten never finished, positions left open)."""
        self._save()
        flush = getattr(self._store, "flush", None)
        if flush is not None:
            flush()

    def _restore(self) -> None:
        data = self._store.load()
        if not data:
            return

        def d(key: str) -> Decimal | None:
            v = data.get(key)
            return None if v is None else Decimal(str(v))

        self.state = TradingState(data.get("state", TradingState.ACTIVE.value))
        self.state_reason = str(data.get("state_reason", ""))
        self.state_by = str(data.get("state_by", ""))
        self.state_ts = int(data.get("state_ts", 0))
        self.daily_loss_halt_day = data.get("daily_loss_halt_day")
        self.day = data.get("day")
        self.day_start_equity = d("day_start_equity")
        self.week = data.get("week")
        self.week_start_equity = d("week_start_equity")
        self.equity_tracker = EquityTracker(peak=d("peak_equity"), last=d("last_equity"))
        self.trades_today = int(data.get("trades_today", 0))
        self.warning_day = data.get("warning_day")
        self.consecutive_losses = int(data.get("consecutive_losses", 0))
        until = data.get("reducing_until")
        self.reducing_until = int(until) if until is not None else None
        self.venue_breakers = {
            v: VenueBreaker.from_json(b) for v, b in (data.get("venue_breakers") or {}).items()
        }
        self.cooldowns = {(s, sym): int(u) for s, sym, u in data.get("cooldowns") or []}
        self.cycles_seen = {str(s): int(r) for s, r in (data.get("cycles_seen") or {}).items()}
        self.settlements_seen = {
            str(s): [str(k) for k in keys]
            for s, keys in (data.get("settlements_seen") or {}).items()
            if isinstance(keys, list)
        }
        now = self._clock.now_ms()
        self.losses = LossHistory.from_json(data.get("losses"), now)
        seen = data.get("losses_seen")
        if isinstance(seen, int) and not isinstance(seen, bool):
            self.losses.stopped(now - seen)  # no sale was seen FAILED while it was stopped
        self.last_resume = data.get("last_resume")
        self.last_kill = data.get("last_kill")
        over = data.get("halted_over")
        self.halted_over = dict(over) if isinstance(over, dict) else None
        loss = data.get("last_loss_halt")
        self.last_loss_halt = dict(loss) if isinstance(loss, dict) else None
        seen = data.get("flows_seen")
        self.flows_seen = int(seen) if seen is not None else None
