"""Events published on the bus and written to the append-only audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tradeguard.model.frozen import quick_init


class EventData(dict[str, Any]):
    """An event's data as the order path builds it (order, fill, position and approval events).

    Its keys are strings and every value is a leaf: text, a number, a boolean, None or a
    Decimal, read from the model's typed fields; only the value under "signal" (an order's
    signal, from outside) may be a container. Stored, such data skips the walk that other
    event data gets to prove that the JSON encoder may take it as it is
    (`storage.driver.dumps_jsonable`): only its signal is checked.
    """

    __slots__ = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: `kind` is dotted (`order.filled`, `risk.denied`, `kill`)."""

    kind: str
    ts: int
    data: dict[str, Any] = field(default_factory=dict)
    venue: str = ""
    symbol: str = ""
    strategy_id: str = ""
    severity: str = "info"  # info | warning | critical


class EventKind:
    """Names of the events the engine emits (kept in one place for subscribers)."""

    ORDER_SUBMITTED = "order.submitted"
    ORDER_ACCEPTED = "order.accepted"
    ORDER_FILLED = "order.filled"
    ORDER_PARTIALLY_FILLED = "order.partially_filled"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REJECTED = "order.rejected"
    ORDER_EXPIRED = "order.expired"
    ORDER_UNKNOWN = "order.unknown"
    FILL = "fill"
    POSITION_OPENED = "position.opened"
    POSITION_CLOSED = "position.closed"
    BALANCE = "balance"
    BALANCE_DISCREPANCY = "balance.discrepancy"
    BALANCE_WITHIN_TOLERANCE = "balance.within_tolerance"
    RISK_APPROVED = "risk.approved"
    RISK_DENIED = "risk.denied"
    RISK_WARNING = "risk.warning"
    BREAKER_TRIPPED = "risk.breaker_tripped"
    BREAKER_RESET = "risk.breaker_reset"
    STATE_CHANGED = "risk.state_changed"
    KILL = "kill"
    RESUME = "resume"
    VENUE_ERROR = "venue.error"
    RECONCILED = "reconcile.done"
    RECONCILE_FAILED = "reconcile.failed"
    SIGNAL = "strategy.signal"
    RUN_STARTED = "run.started"
    RUN_FINISHED = "run.finished"
    DAILY_SUMMARY = "pnl.daily_summary"
    ARB_EXECUTION = "arb.execution"  # one arbitrage cycle attempt ended (any outcome)
    ARB_HELD = "arb.held"  # a cycle left an asset stranded (critical)
    ARB_RESOLVED = "arb.resolved"  # a held cycle's unresolved order ended; its record changed
    ARB_SETTLED = "arb.settled"  # a held pair resolved (critical when its sides disagreed)
    SETTLEMENT = "settlement"  # a resolved market turned one position into cash
    NETTING = "netting"  # a venue turned YES + NO contracts of one market into cash
