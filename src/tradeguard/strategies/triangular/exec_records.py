"""What one cycle attempt did: each order, expected versus actual, and the stored row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from tradeguard.model.enums import Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill, fill_totals
from tradeguard.model.money import ZERO, plain

Outcome = Literal["completed", "unwound", "held", "rejected", "failed"]
UNKNOWN_START = "?"  # a record of legs that are no chain from one start asset


def leg_assets(symbol: str, side: Side) -> tuple[str, str]:
    """What an order on `symbol` spends and receives, from its symbol ("BASE/QUOTE")."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    return (quote, base) if side is Side.BUY else (base, quote)


def sell_back(start: str, held_on: Mapping[str, str], held: Iterable[str]) -> str:
    """What a person may do with what a record holds: sell it back to its start asset; with
    no start asset known, sell each asset held on the market it stopped on, for that market's
    other asset (never "sell it back to ?")."""
    if start and start != UNKNOWN_START:
        return f"sell it back to {start} or keep it deliberately"
    ways = []
    for asset in held:
        symbol = held_on.get(asset, "")
        base, _, rest = symbol.partition("/")
        quote = rest.split(":", 1)[0]
        other = quote if asset == base else base if asset == quote else ""
        ways.append(f"sell the {asset} on {symbol} for {other}" if other else f"sell the {asset}")
    return f"{' or '.join(ways) or 'sell what it holds'} or keep it deliberately"


@dataclass(slots=True)
class LegExecution:
    """One order of a cycle (a forward leg or an unwind hop) and what it did."""

    kind: str  # "leg" | "unwind"
    index: int
    symbol: str
    side: Side
    from_asset: str
    to_asset: str
    scanned_price: Decimal
    limit_price: Decimal = ZERO
    order_amount: Decimal = ZERO
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    spent: Decimal = ZERO  # in from_asset, fees charged in it included
    received: Decimal = ZERO  # in to_asset, fees charged in it deducted
    fee: Decimal = ZERO
    fee_asset: str = ""
    status: str = "not_sent"  # not_sent | denied | rejected | filled | partially_filled | expired
    client_order_id: str = ""
    latency_ms: float = 0.0
    reason: str = ""

    @property
    def partial(self) -> bool:
        """Tell whether the order filled some but not all of its amount."""
        return ZERO < self.filled < self.order_amount

    def book(self, qty: Decimal, value: Decimal, fee: Decimal, fee_asset: str) -> None:
        """Set what the order filled (`qty` base for `value` quote) and what it spent and
        received, a fee charged in either asset counted on its side."""
        self.filled = qty
        self.avg_price = value / qty if qty else ZERO
        self.fee, self.fee_asset = fee, fee_asset
        if self.side is Side.BUY:
            self.spent, self.received = value, qty
        else:
            self.spent, self.received = qty, value
        if fee_asset == self.from_asset:
            self.spent += fee
        elif fee_asset == self.to_asset:
            self.received -= fee

    def book_fills(self, fills: Sequence[Fill]) -> None:
        """Book the order's fills (at least one; they share a fee asset)."""
        totals = fill_totals(fills)
        self.book(totals.amount, totals.cost, totals.fee, fills[0].fee_asset)

    def to_json(self) -> dict[str, Any]:
        """Return the leg as JSON-safe data (Decimals as strings)."""
        return {
            "kind": self.kind,
            "index": self.index,
            "symbol": self.symbol,
            "side": self.side.value,
            "from": self.from_asset,
            "to": self.to_asset,
            "scanned_price": plain(self.scanned_price),
            "limit_price": plain(self.limit_price),
            "order_amount": plain(self.order_amount),
            "filled": plain(self.filled),
            "avg_price": plain(self.avg_price),
            "spent": plain(self.spent),
            "received": plain(self.received),
            "fee": plain(self.fee),
            "fee_asset": self.fee_asset,
            "status": self.status,
            "client_order_id": self.client_order_id,
            "latency_ms": round(self.latency_ms, 3),
            "reason": self.reason,
        }


@dataclass(slots=True)
class ArbExecution:
    """One cycle attempt: expected versus actual, every order, and how it ended."""

    strategy_id: str
    cycle_id: int
    path: str
    start_asset: str
    size: Decimal  # planned start amount
    expected_profit_pct: Decimal  # scanned, top of book, after fees
    expected_profit: Decimal  # in start_asset at `size`
    outcome: Outcome = "rejected"
    reason: str = ""
    spent: Decimal = ZERO  # start asset the first leg spent
    returned: Decimal = ZERO  # start asset received back (last leg and unwinds)
    actual_profit: Decimal = ZERO  # in start_asset; assets left over count at their cost
    actual_profit_pct: Decimal = ZERO
    fees: Decimal = ZERO  # valued in start_asset at cost
    unwind_loss: Decimal = ZERO  # start asset lost by unwinding (cost minus what came back)
    legs: list[LegExecution] = field(default_factory=list)
    unwinds: list[LegExecution] = field(default_factory=list)
    held: dict[str, Decimal] = field(default_factory=dict)  # asset -> amount kept
    held_why: dict[str, str] = field(default_factory=dict)  # asset -> why it is kept
    held_on: dict[str, str] = field(default_factory=dict)  # asset -> the market that would sell it
    dust: dict[str, Decimal] = field(default_factory=dict)  # too small to trade back
    latency_ms: float = 0.0
    first_order_ms: float = 0.0  # from the call to the first order handed to the order path
    ts: int = 0
    record_id: int | None = None
    # its critical `arb.held` events: kept with its record in one commit, published after it
    alerts: list[Event] = field(default_factory=list, repr=False, compare=False)

    def held_events(self) -> list[Event]:
        """Its critical `arb.held` events, naming its record (`record_id`)."""
        return [replace(e, data={**e.data, "record_id": self.record_id}) for e in self.alerts]

    def hold(self, asset: str, amount: Decimal, why: str, symbol: str) -> None:
        """Keep `amount` more of `asset`, saying why and on which market it stopped."""
        self.held[asset] = self.held.get(asset, ZERO) + amount
        said = self.held_why.get(asset, "")
        if why and why not in said:
            self.held_why[asset] = f"{said}; {why}" if said else why
        self.held_on[asset] = symbol

    @property
    def orders_sent(self) -> int:
        """Return how many orders reached the order path's venue step."""
        return sum(1 for leg in (*self.legs, *self.unwinds) if leg.client_order_id)

    def event_data(self) -> dict[str, Any]:
        """Return what the `arb.execution` event says of the cycle (Decimals as strings)."""
        return {
            "record_id": self.record_id,
            "path": self.path,
            "start_asset": self.start_asset,
            "outcome": self.outcome,
            "reason": self.reason,
            "expected_profit_pct": plain(self.expected_profit_pct),
            "actual_profit": plain(self.actual_profit),
            "actual_profit_pct": plain(self.actual_profit_pct),
            "latency_ms": round(self.latency_ms, 3),
        }

    def to_row(self, cycle: dict[str, Any]) -> dict[str, Any]:
        """Return the `arb_executions` row for this record."""
        return {
            "strategy_id": self.strategy_id,
            "cycle": cycle,
            "start_asset": self.start_asset,
            "expected_profit_pct": self.expected_profit_pct,
            "actual_profit": self.actual_profit,
            "fees": self.fees,
            "legs": {
                "size": plain(self.size),
                "expected_profit": plain(self.expected_profit),
                "actual_profit_pct": plain(self.actual_profit_pct),
                "spent": plain(self.spent),
                "returned": plain(self.returned),
                "unwind_loss": plain(self.unwind_loss),
                "first_order_ms": round(self.first_order_ms, 3),
                "reason": self.reason,
                "legs": [leg.to_json() for leg in self.legs],
                "unwinds": [leg.to_json() for leg in self.unwinds],
                "held": {a: plain(q) for a, q in self.held.items()},
                "held_why": dict(self.held_why),
                "held_on": dict(self.held_on),
                "dust": {a: plain(q) for a, q in self.dust.items()},
            },
            "outcome": self.outcome,
            "latency_ms": round(self.latency_ms),
            "ts": self.ts,
        }


# Costs chain through divisions (spent / received per leg), exact to the context's 28 digits:
# a difference this small against what the cycle spent is their last digit, not a result.
_RESIDUE = Decimal("1e-20")


def cycle_profit(returned: Decimal, leftover_cost: Decimal, spent: Decimal) -> Decimal:
    """Return a cycle's actual profit in its start asset, what stays counted at its cost; a
    rounding residue of the cost divisions is zero, so a held cycle is neither won nor lost."""
    profit = returned + leftover_cost - spent
    return ZERO if abs(profit) <= abs(spent) * _RESIDUE else profit
