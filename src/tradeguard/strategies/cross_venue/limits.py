"""The cross-venue strategy's own limits: the plan's four, exposure caps, and locked capital.

```python
limits = PairLimits()                         # $500 daily loss, $1,000 position, 10 trades, 1 %
verdict = limits.check(opp, book, now_ms)     # ok, or a code and a one-line reason
book.open_position(opp.pair_id, ...)          # after a completed pair
```

A size above a cap's room is trimmed to fit; a denial comes only when not even the minimum size
fits, or when the day's loss, trade count or the ROI says no.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from pydantic import ConfigDict, Field

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO, fmt, plain
from tradeguard.strategies.cross_venue.scanner import DAY_MS, PairOpportunity


class PairLimits(ConfigModel):
    """`[strategies.params.limits]` of a cross_venue strategy; money in USD, ROI in percent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Realised loss today (unwinds, settlements) at which no new pair starts.
    daily_loss_usd: Decimal = Field(default=Decimal(500), gt=0, le=Decimal(10_000_000))
    # Capital in one pair (held and new together).
    max_position_usd: Decimal = Field(default=Decimal(1000), gt=0, le=Decimal(10_000_000))
    max_trades_per_day: int = Field(default=10, ge=1, le=10_000)
    # Profit over capital at the traded size, after both fees.
    min_roi_pct: Decimal = Field(default=Decimal(1), ge=0, le=100)
    # Capital in all pairs of one event, and held on one venue.
    max_event_exposure_usd: Decimal = Field(default=Decimal(2000), gt=0, le=Decimal(10_000_000))
    max_venue_exposure_usd: Decimal = Field(default=Decimal(5000), gt=0, le=Decimal(10_000_000))
    # Capital locked in pairs settling more than `locked_days` from now.
    locked_days: int = Field(default=30, ge=1, le=3650)
    max_locked_beyond_usd: Decimal = Field(default=Decimal(1000), ge=0, le=Decimal(10_000_000))


@dataclass(slots=True)
class OpenPair:
    """Capital held in one pair until it settles: both legs, or a first leg held alone (its
    second failed and the unwind did not sell it), which counts against the same limits."""

    pair_id: str
    event: str
    direction: int
    contracts: Decimal
    capital: Decimal
    settles_at_ms: int
    venues: tuple[str, ...]  # one venue for a lone leg
    legs: tuple[str, ...]  # symbols held
    record_id: int | None = None  # the arb_executions row that booked it (None: not known)
    note: str = ""  # why it changed since (contracts the venue no longer holds)

    @property
    def lone(self) -> bool:
        """Tell whether this is a first leg held without its second."""
        return len(self.legs) == 1


@dataclass(slots=True)
class LimitBook:
    """What the limits count: today's trades and realised P&L, and the pairs held."""

    day: int = -1
    trades_today: int = 0
    realised_today: Decimal = ZERO
    open: list[OpenPair] = field(default_factory=list)

    def roll(self, now_ms: int) -> None:
        """Start a new day's counts when the UTC day has changed."""
        day = now_ms // DAY_MS
        if day != self.day:
            self.day, self.trades_today, self.realised_today = day, 0, ZERO

    def record_trade(self, now_ms: int, realised: Decimal = ZERO) -> None:
        """Count one executed pair (or an unwind) and the P&L it realised now."""
        self.roll(now_ms)
        self.trades_today += 1
        self.realised_today += realised

    def realise(self, now_ms: int, pnl: Decimal) -> None:
        """Book P&L realised by a settlement."""
        self.roll(now_ms)
        self.realised_today += pnl

    def to_json(self) -> dict[str, Any]:
        """Return the counts and held pairs as JSON-safe data (for state and the API)."""
        return {
            "day": self.day,
            "trades_today": self.trades_today,
            "realised_today": plain(self.realised_today),
            "open": [
                {
                    "pair_id": o.pair_id,
                    "event": o.event,
                    "direction": o.direction,
                    "contracts": plain(o.contracts),
                    "capital": plain(o.capital),
                    "settles_at_ms": o.settles_at_ms,
                    "venues": list(o.venues),
                    "legs": list(o.legs),
                    **({} if o.record_id is None else {"record_id": o.record_id}),
                    **({"note": o.note} if o.note else {}),
                }
                for o in self.open
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LimitBook:
        """Rebuild the counts from `to_json` output."""
        book = cls(
            int(data.get("day", -1)),
            int(data.get("trades_today", 0)),
            Decimal(str(data.get("realised_today", "0"))),
        )
        for o in data.get("open", []):
            book.open.append(
                OpenPair(
                    o["pair_id"],
                    o["event"],
                    int(o["direction"]),
                    Decimal(o["contracts"]),
                    Decimal(o["capital"]),
                    int(o["settles_at_ms"]),
                    tuple(o["venues"]),
                    tuple(o["legs"]),
                    None if o.get("record_id") is None else int(o["record_id"]),
                    str(o.get("note") or ""),
                )
            )
        return book


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """Go with `contracts` (maybe trimmed), or a reason code and a one-line reason."""

    ok: bool
    contracts: Decimal
    code: str = "OK"
    reason: str = ""


def check_limits(
    limits: PairLimits, book: LimitBook, opp: PairOpportunity, now_ms: int
) -> LimitVerdict:
    """Judge one opportunity against every limit; trim its size to the caps' room."""
    book.roll(now_ms)
    if -book.realised_today >= limits.daily_loss_usd:
        return _deny(
            "DAILY_LOSS",
            f"realised loss today {fmt(-book.realised_today)} USD reached "
            f"daily_loss_usd={fmt(limits.daily_loss_usd)}",
        )
    if book.trades_today >= limits.max_trades_per_day:
        return _deny(
            "MAX_TRADES",
            f"{book.trades_today} trades today reached "
            f"max_trades_per_day={limits.max_trades_per_day}",
        )
    if opp.roi_pct < limits.min_roi_pct:
        return _deny(
            "MIN_ROI",
            f"ROI {opp.roi_pct:.3f}% at {opp.contracts} contracts is below "
            f"min_roi_pct={limits.min_roi_pct}",
        )
    per_contract = opp.capital / opp.contracts
    venues = {leg.venue for leg in opp.legs}
    far = opp.settles_at_ms - now_ms > limits.locked_days * DAY_MS
    rooms = [
        (
            "MAX_POSITION",
            "max_position_usd",
            limits.max_position_usd,
            _held(book, lambda o: o.pair_id == opp.pair_id),
        ),
        (
            "EVENT_EXPOSURE",
            "max_event_exposure_usd",
            limits.max_event_exposure_usd,
            _held(book, lambda o: o.event == opp.event),
        ),
    ]
    for venue in sorted(venues):
        held = _held(book, lambda o, v=venue: v in o.venues)
        rooms.append(
            (
                "VENUE_EXPOSURE",
                f"max_venue_exposure_usd ({venue})",
                limits.max_venue_exposure_usd,
                held,
            )
        )
    if far:
        held = _held(book, lambda o: o.settles_at_ms - now_ms > limits.locked_days * DAY_MS)
        rooms.append(
            (
                "LOCKED_CAPITAL",
                f"max_locked_beyond_usd (beyond {limits.locked_days} d)",
                limits.max_locked_beyond_usd,
                held,
            )
        )
    contracts = opp.contracts
    for code, key, cap, held in rooms:
        room = cap - held
        fits = (room / per_contract).to_integral_value(rounding=ROUND_FLOOR) if room > 0 else ZERO
        if fits < 1:
            return _deny(
                code,
                f"{fmt(held)} USD already held, {key}={fmt(cap)} leaves no room "
                f"for one more pair at {fmt(per_contract, 4)} USD",
            )
        contracts = min(contracts, fits)
    return LimitVerdict(True, contracts)


def is_dust(inst: Instrument | None, contracts: Decimal) -> bool:
    """Tell whether `contracts` are too few for any order the venue takes: below its minimum
    order size or its size step, or worth less than its minimum notional even at a price of 1.
    They cannot be sold, only settle; a pair holding nothing else is flat."""
    if inst is None or contracts <= 0:
        return False
    return contracts < max(inst.min_amount, inst.amount_step, inst.min_notional)


def _held(book: LimitBook, keep: Any) -> Decimal:
    return sum((o.capital for o in book.open if keep(o)), ZERO)


def _deny(code: str, text: str) -> LimitVerdict:
    return LimitVerdict(False, ZERO, code, f"pair rejected ({code}): {text}")
