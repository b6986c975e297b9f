"""What one pair attempt did, as one `arb_executions` row (`cycle.kind = "cross_venue"`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from tradeguard.model.enums import Side
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill, fill_totals
from tradeguard.model.money import ZERO, plain

PairOutcome = Literal["completed", "unwound", "held", "rejected", "failed"]
KIND = "cross_venue"
MICRO = Decimal("0.000001")

INTERRUPTED_PAIR = "interrupted"  # pair id of an attempt taken up after a stop (not journaled)
HELD_SHRUNK = "HELD_SHRUNK"  # the code of a record shrinking held legs to what a venue holds
LEG_FAILED = "LEG_FAILED"  # the code of a record cutting a pair whose leg FAILED at its venue
SALE_FAILED = "SALE_FAILED"  # the code of a record holding again a lone leg whose sale FAILED
HELD_NETTED = "HELD_NETTED"  # the code of a record settling a held leg a merge or netting sold


@dataclass(slots=True)
class PairLegResult:
    """One order of a pair attempt (a leg or the unwind) and what it did."""

    role: str  # "first" | "second" | "unwind"
    venue: str
    symbol: str
    side: Side
    contracts: Decimal
    limit_price: Decimal
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    fee: Decimal = ZERO
    status: str = "not_sent"
    client_order_id: str = ""
    latency_ms: float = 0.0
    reason: str = ""

    @property
    def cash(self) -> Decimal:
        """Return cash out (a buy, fee included) or in (a sell, fee deducted); buys negative."""
        gross = self.filled * self.avg_price
        return -(gross + self.fee) if self.side is Side.BUY else gross - self.fee

    def book_fills(self, fills: Sequence[Fill]) -> None:
        """Set what the leg filled, at what average price and fee, from its fills."""
        totals = fill_totals(fills)
        self.filled, self.avg_price, self.fee = totals.amount, totals.avg_price, totals.fee

    def to_json(self) -> dict[str, Any]:
        """Return the leg as JSON-safe data (Decimals as strings)."""
        return {
            "role": self.role,
            "venue": self.venue,
            "symbol": self.symbol,
            "side": self.side.value,
            "contracts": plain(self.contracts),
            "limit_price": plain(self.limit_price),
            "filled": plain(self.filled),
            "avg_price": plain(self.avg_price),
            "fee": plain(self.fee),
            "status": self.status,
            "client_order_id": self.client_order_id,
            "latency_ms": round(self.latency_ms, 3),
            "reason": self.reason,
        }


@dataclass(slots=True)
class PairAttempt:
    """One attempt on one pair: expected versus actual edge, both legs, fees, latency, outcome."""

    strategy_id: str
    pair_id: str
    event: str
    direction: int
    mode: str  # "PAPER" or "LIVE" (sandbox runs are PAPER: no real money)
    contracts: Decimal
    expected_edge: Decimal  # per contract pair, after fees
    expected_profit: Decimal
    expected_roi_pct: Decimal
    outcome: PairOutcome = "rejected"
    reason: str = ""
    code: str = ""
    actual_edge: Decimal = ZERO
    actual_profit: Decimal = ZERO  # completed: at settlement value 1; unwound: the loss taken
    # what the record realised now (sales, dust written off; never a pair's profit, had at
    # settlement): the day's realised P&L takes it, and the risk engine's streak and cooldown
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    capital: Decimal = ZERO
    legs: list[PairLegResult] = field(default_factory=list)
    held: dict[str, Decimal] = field(default_factory=dict)  # symbol -> contracts left unhedged
    # symbol -> contracts left too few for any order the venue takes (limits.is_dust): the
    # pair is flat, they stay on the venue until their market settles
    dust: dict[str, Decimal] = field(default_factory=dict)
    latency_ms: float = 0.0
    decision_to_acks_ms: float = 0.0  # decision to both legs answered by the venues
    ts: int = 0
    record_id: int | None = None
    retry_of: int | None = None  # the held record whose legs this attempt tries to sell again
    # the size cut so the first leg's unwind fits max_unwind_loss_usd (`trim_text`): from, to,
    # max_unwind_loss_usd, planned_loss_usd (the full size's planned unwind loss)
    trimmed: dict[str, str] = field(default_factory=dict)
    # its critical `arb.held` events: kept with its record in one commit, published after it
    alerts: list[Event] = field(default_factory=list, repr=False, compare=False)

    def to_row(self) -> dict[str, Any]:
        """Return the `arb_executions` row of this attempt."""
        return {
            "strategy_id": self.strategy_id,
            "cycle": {
                "kind": KIND,
                "path": f"{self.pair_id} d{self.direction}",
                "pair_id": self.pair_id,
                "event": self.event,
                "direction": self.direction,
                "mode": self.mode,
            },
            "start_asset": "USD",
            "expected_profit_pct": self.expected_roi_pct,
            "actual_profit": self.actual_profit,
            "fees": self.fees,
            "legs": {
                "size": plain(self.contracts),
                "expected_edge": _micro(self.expected_edge),
                "expected_profit": _micro(self.expected_profit),
                "actual_edge": _micro(self.actual_edge),
                "capital": plain(self.capital),
                "code": self.code,
                "reason": self.reason,
                "decision_to_acks_ms": round(self.decision_to_acks_ms, 3),
                "legs": [leg.to_json() for leg in self.legs if leg.role != "unwind"],
                "unwinds": [leg.to_json() for leg in self.legs if leg.role == "unwind"],
                "held": {s: plain(q) for s, q in self.held.items()},
                **({"dust": {s: plain(q) for s, q in self.dust.items()}} if self.dust else {}),
                **({} if self.retry_of is None else {"retry_of": self.retry_of}),
                **({"trimmed": self.trimmed} if self.trimmed else {}),
            },
            "outcome": self.outcome,
            "latency_ms": round(self.latency_ms),
            "ts": self.ts,
        }

    def to_json(self) -> dict[str, Any]:
        """Return the attempt for `--json` output and the API."""
        row = self.to_row()
        return {
            "id": self.record_id,
            "ts": self.ts,
            "pair_id": self.pair_id,
            "direction": self.direction,
            "mode": self.mode,
            "outcome": self.outcome,
            "code": self.code,
            "reason": self.reason,
            "contracts": plain(self.contracts),
            "expected_edge": _micro(self.expected_edge),
            "actual_edge": _micro(self.actual_edge),
            "expected_profit": _micro(self.expected_profit),
            "actual_profit": plain(self.actual_profit),
            "fees": plain(self.fees),
            "latency_ms": round(self.latency_ms, 3),
            "decision_to_acks_ms": round(self.decision_to_acks_ms, 3),
            "legs": row["legs"]["legs"],
            "unwinds": row["legs"]["unwinds"],
            "held": row["legs"]["held"],
            "trimmed": self.trimmed or None,
        }


def trim_text(trimmed: Mapping[str, str] | None) -> str:
    """Say why a pair's size was cut for its unwind ("" when it was not)."""
    if not trimmed:
        return ""
    return (
        f"trimmed from {trimmed['from']} to {trimmed['to']} contracts "
        f"(max_unwind_loss_usd={trimmed['max_unwind_loss_usd']}: {trimmed['from']} would lose "
        f"{trimmed['planned_loss_usd']} USD if the first leg had to be sold back)"
    )


def _micro(value: Decimal) -> str:
    # Edges are divisions (profit / contracts): shown to 1e-6 USD, not 28 digits.
    return format(value.quantize(MICRO, ROUND_HALF_EVEN).normalize(), "f") if value else "0"


def held_events(rec: PairAttempt) -> list[Event]:
    """The record's critical `arb.held` events, naming it (`record_id`)."""
    return [replace(e, data={**e.data, "record_id": rec.record_id}) for e in rec.alerts]


def execution_event(rec: PairAttempt, strategy_id: str, now_ms: int) -> Event:
    """The `arb.execution` event telling what a recorded attempt did."""
    severity = {"held": "critical", "unwound": "warning", "failed": "warning"}
    if rec.code == HELD_SHRUNK:  # contracts sold outside the strategy: nothing at risk
        severity = {rec.outcome: "warning"}
    elif rec.code == HELD_NETTED:  # settled at 1 USD a pair: what is left is still held
        severity = {"held": "critical", "unwound": "info"}
    why = f" ({rec.reason})" if rec.reason else ""
    if rec.dust:  # flat, and honest about what stays on the venue
        why += "; dust left, below the venue's minimum order, settles with its market: " + (
            ", ".join(f"{q} {s}" for s, q in rec.dust.items()))  # fmt: skip
    if rec.trimmed:
        why += f"; {trim_text(rec.trimmed)}"
    edge = f"{rec.actual_edge if rec.outcome == 'completed' else rec.expected_edge:.4f}"
    shown = rec.to_json()
    return Event(
        EventKind.ARB_EXECUTION,
        now_ms,
        {
            "record_id": rec.record_id,
            "kind": "cross_venue",
            "mode": rec.mode,
            "path": f"{rec.pair_id} d{rec.direction}",
            "pair_id": rec.pair_id,
            "outcome": rec.outcome,
            "reason": rec.reason,
            "contracts": plain(rec.contracts),
            "expected_edge": shown["expected_edge"],
            "actual_edge": shown["actual_edge"],
            "actual_profit": plain(rec.actual_profit),
            "start_asset": "USD",
            **({"dust": {s: plain(q) for s, q in rec.dust.items()}} if rec.dust else {}),
            **({"trimmed": rec.trimmed} if rec.trimmed else {}),
            "message": (
                f"[{rec.mode}] pair {rec.pair_id}: {rec.outcome}, "
                f"{rec.contracts} contracts, edge {edge} USD per pair{why}"
            ),
        },
        rec.legs[0].venue if rec.legs else "",
        rec.legs[0].symbol if rec.legs else "",
        strategy_id,
        severity.get(rec.outcome, "info"),
    )
